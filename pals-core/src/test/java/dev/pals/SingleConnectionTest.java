package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code maxConnections = 1}: every lock shares the one connection, which is kept for tries and
 * releases and so never waits in the server; a waiter retries on it with back-off instead.
 */
class SingleConnectionTest extends LockTestSupport {

    private LockRegistry singleConnection() {
        return registry(LockRegistry.builder(dataSource).namespace(namespace).maxConnections(1));
    }

    @Test
    void locksTakenFromManyThreadsInBothModesShareTheOneConnection() throws Exception {
        LockRegistry registry = singleConnection();
        List<AdvisoryLock> locks = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            locks.add(registry.lock("lock-" + i, i % 2 == 0 ? LockOptions.exclusive() : LockOptions.shared()));
        }
        tryAcquireFromEightThreads(locks);

        assertThat(advisoryLocksOf(dataSource.getPoolName())).isEqualTo(50);
        assertThat(backendsHoldingLocks(dataSource.getPoolName())).isOne();
        assertThat(registry.openConnections()).isOne();
        locks.forEach(AdvisoryLock::release);
    }

    @Test
    void aWaitWhileTheConnectionHoldsALockGetsItsLockOnceTheHolderLetsGo() throws Exception {
        LockRegistry registry = singleConnection();
        AdvisoryLock held = registry.lock("held");
        assertThat(held.tryAcquire()).isTrue();
        AdvisoryLock contended = registry.lock("contended");
        Connection holder = outsider();
        lockFrom(holder, contended.key());

        CompletableFuture<Boolean> waiting = waitingFor(registry, contended);
        unlockAll(holder);

        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(advisoryLocksOf(dataSource.getPoolName())).isEqualTo(2);
        assertThat(backendsHoldingLocks(dataSource.getPoolName())).isOne();
        contended.release();
        held.release();
    }

    @Test
    void aTimedWaitOnTheOneConnectionGivesUpOnlyOnceItsTimeoutPassed() throws Exception {
        LockRegistry registry = singleConnection();
        AdvisoryLock held = registry.lock("held");
        assertThat(held.tryAcquire()).isTrue();
        AdvisoryLock contended = registry.lock("contended");
        lockFrom(outsider(), contended.key());

        long started = System.nanoTime();
        assertThat(contended.tryAcquire(Duration.ofMillis(500))).isFalse();

        assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(500));
        assertThat(held.isHeld()).isTrue();
        held.release();
    }

    @Test
    void aTryIsAnsweredWhileAnotherHandleWaitsBecauseTheOneConnectionNeverWaitsInTheServer() throws Exception {
        LockRegistry registry = singleConnection();
        AdvisoryLock contended = registry.lock("contended");
        Connection holder = outsider();
        lockFrom(holder, contended.key());
        CompletableFuture<Boolean> waiting = waitingFor(registry, contended);

        long started = System.nanoTime();
        AdvisoryLock free = registry.lock("free");
        assertThat(free.tryAcquire()).isTrue();

        // the wait lasts 60 s: the try must not queue behind it (generous bound for noisy machines)
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
        assertThat(waitingOnServer(contended.key())).as("waits in the server").isZero();
        free.release();
        unlockAll(holder);
        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        contended.release();
    }

    /** An acquisition of {@code lock}, started and seen waiting while an outside session holds it. */
    private static CompletableFuture<Boolean> waitingFor(LockRegistry registry, AdvisoryLock lock) {
        CompletableFuture<Boolean> waiting = lock.acquireAsync(Duration.ofSeconds(60));
        await().atMost(Duration.ofSeconds(30)).until(() -> registry.waitingLocks() == 1 || waiting.isDone());
        assertThat(waiting).as("while the holder holds").isNotDone();
        return waiting;
    }
}
