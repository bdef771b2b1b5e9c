package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Many threads on few connections: tries and releases that queue for a connection are sent
 * together, and each caller still gets its own answer.
 */
class BatchingTest extends LockTestSupport {

    @Test
    void concurrentTriesAndReleasesOnFewConnectionsEachGetTheirOwnAnswer() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).maxConnections(2));
        Connection holder = outsider();
        for (int i = 0; i < 8; i++) {
            lockFrom(holder, registry.lock("taken-" + i).key());
        }
        List<Integer> wrong = runTogether(32, thread -> {
            int mistakes = 0;
            for (int round = 0; round < 100; round++) {
                AdvisoryLock mine = registry.lock("mine-" + thread);
                mistakes += mine.tryAcquire() ? 0 : 1;
                mistakes += registry.lock("taken-" + thread % 8).tryAcquire() ? 1 : 0;
                mistakes += mine.release() ? 0 : 1;
            }
            return mistakes;
        });

        assertThat(wrong).containsOnly(0);
        assertThat(advisoryLocksOf(dataSource.getPoolName())).isZero();
    }

    @Test
    void triesFailingOnAFullLockTableLeaveHeldOnlyWhatHandlesHold() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).maxConnections(1));
        AdvisoryLock first = registry.lock("first");
        assertThat(first.tryAcquire()).isTrue();
        Connection hog = outsider();
        fillLockTableLeavingRoomFor(hog, 4);
        List<AdvisoryLock> locks = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            locks.add(registry.lock("crowded-" + i));
        }
        try {
            runTogether(16, thread -> {
                try {
                    return locks.get(thread).tryAcquire() ? 1 : 0;
                } catch (LockCapacityException full) {
                    return 0;
                }
            });
        } finally {
            unlockAll(hog);
        }

        long heldByHandles = 1 + locks.stream().filter(AdvisoryLock::isHeld).count();
        assertThat(advisoryLocksOf(dataSource.getPoolName())).isEqualTo(heldByHandles);
        for (AdvisoryLock lock : locks) {
            if (lock.isHeld()) {
                lock.release();
            }
        }
        first.release();
    }

    /** Runs {@code task} on {@code threads} threads released at once; returns each one's result. */
    private static List<Integer> runTogether(int threads, ThreadTask task) throws Exception {
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int thread = 0; thread < threads; thread++) {
                int index = thread;
                Callable<Integer> body = () -> {
                    start.await();
                    return task.run(index);
                };
                results.add(executor.submit(body));
            }
            start.countDown();
            List<Integer> values = new ArrayList<>();
            for (Future<Integer> result : results) {
                values.add(result.get(120, TimeUnit.SECONDS));
            }
            return values;
        } finally {
            executor.shutdownNow();
        }
    }

    @FunctionalInterface
    private interface ThreadTask {
        int run(int thread) throws Exception;
    }

    /** Fills the server's lock table from {@code connection}, then frees {@code room} entries. */
    private static void fillLockTableLeavingRoomFor(Connection connection, int room) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            try {
                statement.execute("SELECT pg_advisory_lock(5000000000 + i) FROM generate_series(1, 10000000) AS i");
                throw new AssertionError("the lock table never filled");
            } catch (SQLException e) {
                assertThat(e.getSQLState()).isEqualTo("53200");
            }
            statement.execute("SELECT pg_advisory_unlock(5000000000 + i) FROM generate_series(1, " + room + ") AS i");
        }
    }
}
