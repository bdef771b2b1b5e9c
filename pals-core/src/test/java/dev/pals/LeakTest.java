package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
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

/** However operations end, they leave nothing behind: no lock, no connection, no thread. */
class LeakTest extends LockTestSupport {

    private static final int OPERATIONS = 100_000;
    private static final int THREADS = 8;

    @Test
    void hundredThousandMixedOperationsLeaveNoLockNoConnectionAndNoThread() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .idleTimeout(Duration.ofMillis(200)).lossCheckInterval(Duration.ofMillis(100)));
        AdvisoryLock remote = registry.lock("held-elsewhere");
        Connection holder = outsider();
        lockFrom(holder, remote.key());
        AdvisoryLock local = registry.lock("held-here");
        assertThat(local.tryAcquire()).isTrue();
        AtomicInteger done = new AtomicInteger();

        ExecutorService executor = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<?>> running = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                running.add(executor.submit(() -> {
                    for (int i = thread; i < OPERATIONS; i += THREADS) {
                        operation(registry, i);
                        done.incrementAndGet();
                    }
                    return null;
                }));
            }
            for (Future<?> worker : running) {
                worker.get(120, TimeUnit.SECONDS);
            }
        } finally {
            executor.shutdownNow();
        }
        assertThat(done.get()).isEqualTo(OPERATIONS);
        local.release();
        unlockAll(holder);

        // abandoned handles are found by the garbage collector, then released by the Cleaner
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            System.gc();
            assertThat(advisoryLocksOf(dataSource.getPoolName())).isZero();
        });
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            assertThat(registry.openConnections()).isZero();
            assertThat(dataSource.getHikariPoolMXBean().getActiveConnections()).isZero();
        });
        registry.close();
        await().atMost(Duration.ofSeconds(30)).until(() -> registryThreads() == 0);
    }

    /** One operation of the mix, chosen by its number. */
    private static void operation(LockRegistry registry, int i) throws Exception {
        String name = "key-" + (i % 64);
        switch (i % 100) {
            case 0 -> assertThat(registry.lock("held-elsewhere").tryAcquire(Duration.ofMillis(1))).isFalse();
            case 1 -> assertThat(registry.lock("held-here").tryAcquire(Duration.ofMillis(1))).isFalse();
            case 2 -> {
                Thread.currentThread().interrupt();
                assertThatThrownBy(() -> registry.lock("held-elsewhere").tryAcquire(Duration.ofSeconds(5)))
                        .isInstanceOf(InterruptedException.class);
                Thread.interrupted();
            }
            case 3 -> {
                CompletableFuture<Boolean> pending = registry.lock("held-elsewhere").acquireAsync(Duration.ofSeconds(5));
                pending.cancel(true);
            }
            case 4 -> registry.lock("abandoned-" + i).tryAcquire();
            case 5 -> assertThatThrownBy(() -> registry.executeLocked(name, Duration.ofSeconds(10), () -> {
                        throw new IllegalStateException("the body failed");
                    })).isInstanceOf(IllegalStateException.class).hasMessage("the body failed");
            default -> {
                LockOptions options = i % 3 == 0 ? LockOptions.shared() : LockOptions.exclusive();
                try (HeldLock held = registry.lock(name, options).hold(Duration.ofSeconds(30))) {
                    assertThat(held.isHeld()).isTrue();
                }
            }
        }
    }

    private static long registryThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(thread -> thread.getName().startsWith("pals-lock-")).count();
    }
}
