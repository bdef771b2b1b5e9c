package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code acquireAsync()} without arguments acquires with the handle's defaults, as {@code acquire()} does. */
class AcquireAsyncTest extends LockTestSupport {

    @Test
    void aBlockingHandleWaitsInTheServerAndGetsTheLockOnceTheHolderLetsGo() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x", LockOptions.exclusive().withTimeout(Duration.ofSeconds(60)));
        Connection holder = outsider();
        lockFrom(holder, lock.key());

        CompletableFuture<Boolean> pending = lock.acquireAsync();
        awaitServerWaiter(lock.key());
        unlockAll(holder);

        assertThat(pending.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(lock.isHeld()).isTrue();
        lock.release();
    }

    @Test
    void aBlockingHandleWaitsAtMostItsOwnTimeout() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .acquireTimeout(LockRegistry.FOREVER));
        AdvisoryLock lock = registry.lock("x", LockOptions.exclusive().withTimeout(Duration.ofMillis(300)));
        lockFrom(outsider(), lock.key());

        long started = System.nanoTime();
        CompletableFuture<Boolean> pending = lock.acquireAsync();

        assertThat(pending.get(30, TimeUnit.SECONDS)).isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        assertThat(lock.isHeld()).isFalse();
    }

    @Test
    void aNonBlockingHandleTriesOnceWhateverItsTimeout() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x", LockOptions.exclusive().withBlocking(false)
                .withTimeout(LockRegistry.FOREVER));
        lockFrom(outsider(), lock.key());

        CompletableFuture<Boolean> pending = lock.acquireAsync();

        assertThat(pending.get(30, TimeUnit.SECONDS)).isFalse();
        assertThat(lock.isHeld()).isFalse();
    }

    @Test
    void anAcquisitionWithoutAWaitTakesAFreeLockEveryTime() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock free = registry.lock("free");
        AdvisoryLock nonBlocking = registry.lock("free-non-blocking", LockOptions.exclusive().withBlocking(false));

        // the try used to race its own expiry, which answered false before a thread had tried
        for (int round = 0; round < 50; round++) {
            assertThat(free.acquireAsync(Duration.ZERO).get(30, TimeUnit.SECONDS)).as("round %d", round).isTrue();
            assertThat(free.release()).isTrue();
            assertThat(nonBlocking.acquireAsync().get(30, TimeUnit.SECONDS)).as("round %d", round).isTrue();
            assertThat(nonBlocking.release()).isTrue();
        }
    }
}
