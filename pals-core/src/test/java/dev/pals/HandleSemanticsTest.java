package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** PALs' own suite: names, defaults, shared locks, abandoned handles, more threads than connections. */
class HandleSemanticsTest extends LockTestSupport {

    @Test
    void differentNamesBothAcquire() {
        LockRegistry registry = registry();

        assertThat(registry.lock("a").tryAcquire()).isTrue();
        assertThat(registry.lock("b").tryAcquire()).isTrue();
    }

    @Test
    void handleDefaultsOverrideRegistryDefaults() throws InterruptedException {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .blocking(false).acquireTimeout(Duration.ofSeconds(5)));
        AdvisoryLock plain = registry.lock("x");
        AdvisoryLock waiting = registry.lock("x", LockOptions.exclusive().withBlocking(true)
                .withTimeout(Duration.ofMillis(250)));

        assertThat(plain.isBlocking()).isFalse();
        assertThat(plain.timeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(waiting.isBlocking()).isTrue();
        assertThat(waiting.timeout()).isEqualTo(Duration.ofMillis(250));

        assertThat(plain.acquire()).isTrue();
        long started = System.nanoTime();
        assertThat(waiting.acquire()).isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(250));
    }

    @Test
    void reacquiringAHeldHandleIsCountedAndNeedsAsManyReleases() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");

        assertThat(lock.tryAcquire()).isTrue();
        assertThat(lock.tryAcquire()).isTrue();
        assertThat(lock.holdCount()).isEqualTo(2);

        assertThat(lock.release()).isTrue();
        assertThat(lock.isHeld()).isTrue();
        assertThat(registry.lock("x").tryAcquire()).isFalse();
        assertThat(lock.release()).isTrue();
        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
        assertThat(lock.release()).isFalse();
    }

    @Test
    void twoSharedHoldersCoexistAndAnExclusiveWaiterInAnotherSessionWaitsUntilBothRelease() throws Exception {
        AdvisoryLock reader1 = registry().lock("doc", LockOptions.shared());
        AdvisoryLock reader2 = registry().lock("doc", LockOptions.shared());
        AdvisoryLock writer = registry().lock("doc");

        assertThat(reader1.tryAcquire()).isTrue();
        assertThat(reader2.tryAcquire()).isTrue();
        assertThat(grantedOnServer(writer.key())).as("two sessions share the lock").isEqualTo(2);
        CompletableFuture<Boolean> writing = writer.acquireAsync(Duration.ofSeconds(30));
        awaitServerWaiter(writer.key());

        // the server grants a compatible waiter inside the unlock, so what it shows after release() is final
        reader1.release();
        assertThat(waitingOnServer(writer.key())).as("the writer still waits for the second reader").isEqualTo(1);
        assertThat(writing).isNotDone();
        reader2.release();

        assertThat(writing.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(writer.isHeld()).isTrue();
        assertThat(reader1.tryAcquire()).as("a reader is excluded by the writer's session").isFalse();
        writer.release();
    }

    @Test
    void aSharedHandleDoesNotJoinAnotherOfItsRegistryWhileAWriterElsewhereWaitsSoTheWriterIsNotStarved()
            throws Exception {
        LockRegistry readers = registry();
        AdvisoryLock reader1 = readers.lock("doc", LockOptions.shared());
        AdvisoryLock reader2 = readers.lock("doc", LockOptions.shared());
        AdvisoryLock writer = registry().lock("doc");
        assertThat(reader1.tryAcquire()).isTrue();
        CompletableFuture<Boolean> writing = writer.acquireAsync(Duration.ofSeconds(30));
        awaitServerWaiter(writer.key());

        assertThat(reader2.tryAcquire()).as("a join while the writer waits, as PostgreSQL refuses a new reader")
                .isFalse();
        CompletableFuture<Boolean> reading = reader2.acquireAsync(Duration.ofSeconds(30));
        reader1.release();

        assertThat(writing.get(30, TimeUnit.SECONDS)).as("the writer goes first").isTrue();
        assertThat(reading).isNotDone();
        writer.release();
        assertThat(reading.get(30, TimeUnit.SECONDS)).as("then the waiting reader").isTrue();
        reader2.release();
    }

    @Test
    void sharedHandlesOfOneRegistryShareOneServerLock() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock reader1 = registry.lock("doc", LockOptions.shared());
        AdvisoryLock reader2 = registry.lock("doc", LockOptions.shared());

        assertThat(reader1.tryAcquire()).isTrue();
        assertThat(reader2.tryAcquire()).isTrue();
        assertThat(registry.lock("doc").tryAcquire()).isFalse();
        reader1.release();
        assertThat(grantedOnServer(reader2.key())).isEqualTo(1);
        reader2.release();
        assertThat(grantedOnServer(reader2.key())).isZero();
    }

    @Test
    void lockTakenOnOneThreadIsReleasedOnAnother() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");
        lock.tryAcquire();

        ExecutorService executor = Executors.newSingleThreadExecutor();
        try {
            assertThat(executor.submit(lock::release).get(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            executor.shutdownNow();
        }
        assertThat(registry.lock("x").tryAcquire()).isTrue();
    }

    @Test
    void unreachableHandleThatHoldsIsReleasedWithAWarningNamingTheLock() throws Exception {
        LockRegistry registry = registry();
        List<String> warnings = new CopyOnWriteArrayList<>();
        Logger logger = Logger.getLogger(AdvisoryLock.class.getName());
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                warnings.add(record.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(handler);
        try {
            acquireAndDrop(registry, "forgotten");
            LockKey key = LockKey.of(namespace, "forgotten");

            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                System.gc();
                assertThat(grantedOnServer(key)).isZero();
            });
            assertThat(warnings).anySatisfy(message -> assertThat(message).contains("'forgotten'"));
            assertThat(registry.lock("forgotten").tryAcquire()).isTrue();
        } finally {
            logger.removeHandler(handler);
        }
    }

    private static void acquireAndDrop(LockRegistry registry, String name) {
        assertThat(registry.lock(name).tryAcquire()).isTrue();
    }

    @Test
    void aHandleDroppedWhileHoldingAgainAfterAReleaseIsReleased() {
        LockRegistry registry = registry();

        releaseReacquireAndDrop(registry, "forgotten-again");
        LockKey key = LockKey.of(namespace, "forgotten-again");

        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            System.gc();
            assertThat(grantedOnServer(key)).isZero();
        });
    }

    private static void releaseReacquireAndDrop(LockRegistry registry, String name) {
        AdvisoryLock lock = registry.lock(name);
        assertThat(lock.tryAcquire()).isTrue();
        assertThat(lock.release()).isTrue();
        assertThat(lock.tryAcquire()).isTrue();
    }

    @Test
    void aReleasedHandleIsCollectedWithWhatItRefersToInOneCollection() {
        LockRegistry registry = registry();

        WeakReference<LockKey> key = acquireReleaseAndDrop(registry, "released");
        System.gc();

        // a registration per handle kept its state reachable until a collection after the handle's
        assertThat(key.get()).as("the key of a released, dropped handle, after one collection").isNull();
    }

    private static WeakReference<LockKey> acquireReleaseAndDrop(LockRegistry registry, String name) {
        AdvisoryLock lock = registry.lock(name);
        assertThat(lock.tryAcquire()).isTrue();
        assertThat(lock.release()).isTrue();
        return new WeakReference<>(lock.key());
    }

    @Test
    void moreThreadsThanConnectionsEachLockingADifferentNameAllSucceed() throws Exception {
        int connections = 4;
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .maxConnections(connections));
        int threads = connections + 1;
        CountDownLatch allHolding = new CountDownLatch(threads);
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                String name = "name-" + i;
                results.add(executor.submit(() -> {
                    try (HeldLock held = registry.lock(name).hold(Duration.ofSeconds(30))) {
                        allHolding.countDown();
                        return allHolding.await(30, TimeUnit.SECONDS);
                    }
                }));
            }
            for (Future<Boolean> result : results) {
                assertThat(result.get(60, TimeUnit.SECONDS)).isTrue();
            }
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void executeLockedRunsTheTaskHoldingTheLockAndReleasesAfter() throws Exception {
        LockRegistry registry = registry();

        String result = registry.executeLocked("job", Duration.ofSeconds(5), () -> {
            assertThat(registry.lock("job").tryAcquire()).isFalse();
            return "done";
        });

        assertThat(result).isEqualTo("done");
        assertThat(grantedOnServer(LockKey.of(namespace, "job"))).isZero();
    }

    @Test
    void executeLockedThrowsAcquireFailureAndSkipsTheTaskWhenTheLockIsTaken() {
        LockRegistry registry = registry();
        AdvisoryLock held = registry.lock("job");
        assertThat(held.tryAcquire()).isTrue();
        List<String> ran = new ArrayList<>();

        assertThatThrownBy(() -> registry.executeLocked("job", Duration.ZERO, () -> ran.add("ran")))
                .isInstanceOf(AcquireFailureException.class);
        assertThat(ran).isEmpty();
        // a collected handle's lock is released by the cleaner, so this one must stay reachable until here
        Reference.reachabilityFence(held);
    }

    @Test
    void closingTheRegistryReleasesEverythingAndLaterReleaseSaysSo() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");
        lock.tryAcquire();
        registry.lock("y").tryAcquire();

        registry.close();

        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
        assertThat(advisoryLocksOf(dataSource.getPoolName())).isZero();
        assertThatThrownBy(lock::release).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> registry.lock("z")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void negativeTimeoutIsRejectedNamingTheParameter() {
        LockRegistry registry = registry();

        assertThatThrownBy(() -> registry.lock("x").tryAcquire(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("timeout must not be negative");
        assertThatThrownBy(() -> LockRegistry.builder(dataSource).acquireTimeout(Duration.ofDays(365)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("FOREVER");
    }
}
