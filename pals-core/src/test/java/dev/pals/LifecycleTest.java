package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Closing, bookkeeping and connection limits hold up while operations are in flight. */
class LifecycleTest extends LockTestSupport {

    @Test
    void closeCancelsAWaitWithoutLimitAndReturnsPromptly() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");
        Connection holder = outsider();
        lockFrom(holder, lock.key());
        CompletableFuture<Boolean> waiting = lock.acquireAsync(LockRegistry.FOREVER);
        await().atMost(Duration.ofSeconds(30)).until(() -> advisoryLocksOf(dataSource.getPoolName()) == 1);

        long started = System.nanoTime();
        registry.close();

        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(20));
        assertThatThrownBy(() -> waiting.get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
        assertThat(lock.isHeld()).isFalse();
        await().atMost(Duration.ofSeconds(30)).until(() -> advisoryLocksOf(dataSource.getPoolName()) == 0);
        unlockAll(holder);
        assertThat(grantedOnServer(lock.key())).isZero();
    }

    @Test
    void waitsNeverTakeTheLastConnectionFromTries() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .maxConnections(2).idleTimeout(Duration.ZERO));
        Connection holder = outsider();
        List<CompletableFuture<Boolean>> waits = new ArrayList<>();
        List<AdvisoryLock> waiters = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            AdvisoryLock waiter = registry.lock("contended-" + i);
            lockFrom(holder, waiter.key());
            waiters.add(waiter);
            waits.add(waiter.acquireAsync(Duration.ofSeconds(60)));
        }

        AdvisoryLock free = registry.lock("free");
        CompletableFuture<Boolean> tried = CompletableFuture.supplyAsync(free::tryAcquire);

        assertThat(tried.get(20, TimeUnit.SECONDS)).isTrue();
        assertThat(registry.openConnections()).isLessThanOrEqualTo(2);
        free.release();
        unlockAll(holder);
        for (CompletableFuture<Boolean> wait : waits) {
            assertThat(wait.get(60, TimeUnit.SECONDS)).isTrue();
        }
        waiters.forEach(AdvisoryLock::release);
    }

    @Test
    void withAnIdleTimeoutOfZeroAReleaseFromAnInterruptedThreadReturnsTheConnectionInsteadOfAbortingIt()
            throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .idleTimeout(Duration.ZERO));
        AdvisoryLock lock = registry.lock("x");
        assertThat(lock.tryAcquire()).isTrue();
        long backend = observe("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                + "AND classid = ? AND objid = ? AND objsubid = ?", lock.key().classId(), lock.key().objId(),
                lock.key().objSubId());

        Thread.currentThread().interrupt();
        try {
            assertThat(lock.release()).isTrue();
            assertThat(Thread.currentThread().isInterrupted()).as("the interrupt status is kept").isTrue();
        } finally {
            Thread.interrupted();
        }

        await().atMost(Duration.ofSeconds(30)).until(() -> registry.openConnections() == 0);
        assertThat(dataSource.getHikariPoolMXBean().getActiveConnections()).isZero();
        assertThat(observe("SELECT count(*) FROM pg_stat_activity WHERE pid = ?", (int) backend))
                .as("the connection went back to the pool alive, not aborted").isOne();
    }

    @Test
    void aReleaseRacingCloseIsNeverReportedAsALoss() throws Exception {
        List<String> reported = new CopyOnWriteArrayList<>();
        ExecutorService racers = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 100; round++) {
                LockRegistry registry = LockRegistry.builder(dataSource).namespace(namespace)
                        .lossListener((lock, lost) -> reported.add("listener: " + lost.getMessage())).build();
                List<AdvisoryLock> locks = new ArrayList<>();
                for (int i = 0; i < 20; i++) {
                    locks.add(registry.lock("x" + i));
                    assertThat(locks.get(i).tryAcquire()).isTrue();
                }
                CyclicBarrier start = new CyclicBarrier(2);
                Future<?> release = racers.submit(() -> {
                    start.await();
                    for (AdvisoryLock lock : locks) {
                        try {
                            lock.release();
                        } catch (LockException failed) {
                            reported.add("release: " + failed.getMessage());
                        } catch (IllegalStateException closed) {
                            // the close came first: documented
                        }
                    }
                    return null;
                });
                Future<?> close = racers.submit(() -> {
                    start.await();
                    registry.close();
                    return null;
                });
                release.get(30, TimeUnit.SECONDS);
                close.get(30, TimeUnit.SECONDS);
            }
        } finally {
            racers.shutdownNow();
        }
        assertThat(reported).as("false losses among 2,000 releases racing close()").isEmpty();
    }

    @Test
    void aWaitInterruptedAsTheRegistryClosesKeepsTheInterruptWhateverItThrows() throws Exception {
        Connection holder = outsider();
        for (int round = 0; round < 30; round++) {
            LockRegistry registry = LockRegistry.builder(dataSource).namespace(namespace).build();
            AdvisoryLock lock = registry.lock("x");
            lockFrom(holder, lock.key());
            CompletableFuture<String> outcome = new CompletableFuture<>();
            Thread waiter = new Thread(() -> {
                try {
                    lock.tryAcquire(Duration.ofSeconds(30));
                    outcome.complete("returned");
                } catch (InterruptedException e) {
                    outcome.complete("interrupted");
                } catch (IllegalStateException closed) {
                    outcome.complete(Thread.currentThread().isInterrupted() ? "closed, still interrupted"
                            : "closed, interrupt lost");
                }
            });
            waiter.start();
            awaitServerWaiter(lock.key());

            waiter.interrupt();
            registry.close();

            assertThat(outcome.get(30, TimeUnit.SECONDS)).as("round %d", round)
                    .isIn("interrupted", "closed, still interrupted");
            waiter.join(30_000);
            unlockAll(holder);
        }
    }

    @Test
    void releasedAndNeverHeldNamesLeaveNoBookkeepingBehind() {
        LockRegistry registry = registry();
        for (int i = 0; i < 100; i++) {
            AdvisoryLock lock = registry.lock("entity-" + i);
            lock.tryAcquire();
            lock.tryAcquire();
            lock.release();
            lock.release();
            lock.release();
            registry.lock("never-held-" + i).release();
        }

        assertThat(registry.engine().trackedKeys()).isZero();
    }

    @Test
    void closeGracefullyRefusesNewLocksLetsHoldersFinishAndReturnsOnceTheyHave() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock running = registry.lock("running");
        assertThat(running.tryAcquire()).isTrue();

        CompletableFuture<Boolean> closing = CompletableFuture.supplyAsync(() -> {
            try {
                return registry.closeGracefully(Duration.ofSeconds(30));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        // a new handle each time: one that got the lock before the refusal began would re-enter from then on
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            AdvisoryLock fresh = registry.lock("fresh");
            try {
                assertThatThrownBy(fresh::tryAcquire).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("shutting down").hasMessageContaining("'fresh'");
            } finally {
                if (fresh.isHeld()) {
                    fresh.release();
                }
            }
        });
        assertThat(running.tryAcquire()).as("a holder may still re-enter").isTrue();
        assertThat(running.release()).isTrue();
        assertThat(closing).as("closing waits for the last hold").isNotDone();
        assertThat(grantedOnServer(running.key())).isEqualTo(1);

        assertThat(running.release()).isTrue();

        assertThat(closing).succeedsWithin(Duration.ofSeconds(10)).isEqualTo(true);
        assertThat(grantedOnServer(running.key())).isZero();
    }

    @Test
    void closeGracefullyClosesAfterItsTimeoutWhenAHolderDoesNotFinish() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock stuck = registry.lock("stuck");
        assertThat(stuck.tryAcquire()).isTrue();

        long start = System.nanoTime();
        assertThat(registry.closeGracefully(Duration.ofMillis(300))).isFalse();

        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        assertThat(stuck.isHeld()).isFalse();
        assertThat(grantedOnServer(stuck.key())).isZero();
    }
}
