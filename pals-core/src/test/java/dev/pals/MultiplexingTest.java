package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Many locks on few connections, without letting a wait or a shared session break exclusion. */
class MultiplexingTest extends LockTestSupport {

    @Test
    void fiveHundredHeldLocksUseNoMoreConnectionsThanConfigured() throws Exception {
        LockRegistry registry = registry();
        List<AdvisoryLock> locks = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            locks.add(registry.lock("lock-" + i));
        }
        tryAcquireFromEightThreads(locks);

        assertThat(advisoryLocksOf(dataSource.getPoolName())).isEqualTo(500);
        assertThat(backendsHoldingLocks(dataSource.getPoolName())).isBetween(1, 4);
        assertThat(registry.openConnections()).isLessThanOrEqualTo(4);
        for (AdvisoryLock lock : locks) {
            assertThat(lock.release()).isTrue();
        }
    }

    @Test
    void blockingWaitRunsOnAConnectionThatHoldsNoLock() throws Exception {
        LockRegistry registry = registry();
        for (int i = 0; i < 50; i++) {
            assertThat(registry.lock("held-" + i).tryAcquire()).isTrue();
        }
        AdvisoryLock contended = registry.lock("contended");
        Connection holder = outsider();
        lockFrom(holder, contended.key());

        CompletableFuture<Boolean> waiting = contended.acquireAsync(Duration.ofSeconds(60));
        await().atMost(Duration.ofSeconds(30)).until(() -> waiterPid(contended.key()) != 0);

        assertThat(grantedAdvisoryLocksOfBackend(waiterPid(contended.key()))).isZero();
        unlockAll(holder);
        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void locksTakenFromManyThreadsLeaveRoomForAWaitInTheServer() throws Exception {
        LockRegistry registry = registry();
        List<AdvisoryLock> locks = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            locks.add(registry.lock("held-" + i));
        }
        tryAcquireFromEightThreads(locks);
        AdvisoryLock contended = registry.lock("contended");
        Connection holder = outsider();
        lockFrom(holder, contended.key());

        CompletableFuture<Boolean> waiting = contended.acquireAsync(Duration.ofSeconds(60));

        // in the server's queue, not woken later by a notification or a poll
        await().atMost(Duration.ofSeconds(5)).until(() -> waitingOnServer(contended.key()) > 0);
        assertThat(backendsHoldingLocks(dataSource.getPoolName())).isBetween(1, 3);
        unlockAll(holder);
        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(contended.release()).isTrue();
        for (AdvisoryLock lock : locks) {
            assertThat(lock.release()).isTrue();
        }
    }

    @Test
    void releaseIsNotDelayedByAnotherHandlesLongWait() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).maxConnections(2));
        AdvisoryLock held = registry.lock("held");
        assertThat(held.tryAcquire()).isTrue();
        AdvisoryLock contended = registry.lock("contended");
        Connection holder = outsider();
        lockFrom(holder, contended.key());
        CompletableFuture<Boolean> waiting = contended.acquireAsync(Duration.ofSeconds(60));
        await().atMost(Duration.ofSeconds(30)).until(() -> waiterPid(contended.key()) != 0);

        long started = System.nanoTime();
        assertThat(held.release()).isTrue();

        // the wait lasts 60 s; the release must not queue behind it
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
        assertThat(waiting).isNotDone();
        assertThat(grantedOnServer(held.key())).isZero();
        unlockAll(holder);
        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void handlesSharingASessionStillExcludeEachOther() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).maxConnections(2));
        int threads = 8;
        int rounds = 40;
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        int[] counter = {0};
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                results.add(executor.submit(() -> {
                    for (int i = 0; i < rounds; i++) {
                        try (HeldLock held = registry.lock("counter").hold(Duration.ofSeconds(60))) {
                            maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
                            counter[0] = counter[0] + 1;
                            inside.decrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> result : results) {
                result.get(120, TimeUnit.SECONDS);
            }
        } finally {
            executor.shutdownNow();
        }

        assertThat(maxInside.get()).isEqualTo(1);
        assertThat(counter[0]).isEqualTo(threads * rounds);
    }

    @Test
    void waitersBeyondTheConnectionLimitStillAcquireOnceTheHolderReleases() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).maxConnections(2));
        for (int i = 0; i < 5; i++) {
            assertThat(registry.lock("held-" + i).tryAcquire()).isTrue();
        }
        Connection holder = outsider();
        List<AdvisoryLock> waiters = new ArrayList<>();
        List<CompletableFuture<Boolean>> results = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            AdvisoryLock waiter = registry.lock("key-" + i);
            lockFrom(holder, waiter.key());
            waiters.add(waiter);
            results.add(waiter.acquireAsync(Duration.ofSeconds(60)));
        }

        unlockAll(holder);

        for (CompletableFuture<Boolean> result : results) {
            assertThat(result.get(60, TimeUnit.SECONDS)).isTrue();
        }
        // its two, and the listener and marker session that woke the waits beyond them
        assertThat(registry.openConnections()).isLessThanOrEqualTo(2 + 2);
        waiters.forEach(AdvisoryLock::release);
    }

    @Test
    void lossChecksNeverMakeAThreadThatHoldsLocksAndWaitsOpenAThirdConnection() throws Exception {
        // a check on nearly every pass: one on the session of a lock just released was counted as a user, so the
        // wait that followed found no empty session and opened one
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .lossCheckInterval(Duration.ofMillis(1)));
        // kept reachable to the end: a handle collected while held is released
        List<AdvisoryLock> held = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            AdvisoryLock lock = registry.lock("held-" + i);
            assertThat(lock.tryAcquire()).isTrue();
            held.add(lock);
        }
        AdvisoryLock contended = registry.lock("contended");
        long deadline = System.nanoTime() + Duration.ofSeconds(3).toNanos();
        ExecutorService outside = Executors.newSingleThreadExecutor();
        Connection holder = outsider();
        try {
            // takes the key as soon as the registry lets go, and lets go once the registry waits for it in the server
            Future<?> contending = outside.submit(() -> {
                while (System.nanoTime() < deadline) {
                    lockFrom(holder, contended.key());
                    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(1))
                            .until(() -> waitingOnServer(contended.key()) > 0 || System.nanoTime() >= deadline);
                    unlockAll(holder);
                }
                return null;
            });
            int acquisitions = 0;
            while (System.nanoTime() < deadline) {
                assertThat(contended.tryAcquire(Duration.ofSeconds(10))).isTrue();
                assertThat(contended.release()).isTrue();
                acquisitions++;
            }
            contending.get(10, TimeUnit.SECONDS);
            assertThat(acquisitions).isPositive();
        } finally {
            outside.shutdownNow();
        }

        // sessions stay out for the idle timeout of 10 s, so a third opened at any time is still counted
        assertThat(registry.openConnections()).isEqualTo(2);
        held.forEach(lock -> assertThat(lock.release()).isTrue());
    }

    @Test
    void idleConnectionsGoBackToTheDataSourceHoldingNothing() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .idleTimeout(Duration.ZERO));
        AdvisoryLock a = registry.lock("a");
        AdvisoryLock b = registry.lock("b", LockOptions.shared());
        a.tryAcquire();
        b.tryAcquire();
        a.release();
        b.release();

        await().atMost(Duration.ofSeconds(30)).until(() -> registry.openConnections() == 0);
        assertThat(dataSource.getHikariPoolMXBean().getIdleConnections()).isPositive();
        assertThat(advisoryLocksOf(dataSource.getPoolName())).isZero();
    }

    private static int waiterPid(LockKey key) throws Exception {
        return (int) observe("SELECT coalesce(max(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                + "AND classid = ? AND objid = ? AND objsubid = ?", key.classId(), key.objId(), key.objSubId());
    }

    private static long grantedAdvisoryLocksOfBackend(int pid) throws Exception {
        return observe("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = ?", pid);
    }
}
