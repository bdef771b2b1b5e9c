package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Tries and unlocks queued on one session while its connection is busy go to the server together,
 * in one statement, and each caller still gets its own answer, a failure included.
 */
class CombinedBatchTest extends LockTestSupport {

    private final AtomicInteger executed = new AtomicInteger();
    private final ExecutorService callers = Executors.newCachedThreadPool();

    @AfterEach
    void stopCallers() {
        callers.shutdownNow();
    }

    @Test
    void aTryAndAnUnlockQueuedTogetherAreAnsweredByOneStatement() throws Exception {
        Connection connection = outsider();
        Session session = new Session(counting(connection), backendPid(connection), 0, new WaitFlag());
        LockKey held = LockKey.of(21_001L);
        LockKey wanted = LockKey.of(21_002L);
        assertThat(session.tryLock(held, LockMode.EXCLUSIVE)).isTrue();

        List<Future<Boolean>> answers = queuedTogether(session,
                () -> session.tryLock(wanted, LockMode.EXCLUSIVE), () -> session.unlock(held, LockMode.EXCLUSIVE));

        assertThat(answers.get(0).get(10, TimeUnit.SECONDS)).as("the try").isTrue();
        assertThat(answers.get(1).get(10, TimeUnit.SECONDS)).as("the unlock").isTrue();
        assertThat(executed).as("statements sent for both").hasValue(1);
        assertThat(heldBy(connection)).containsExactly(wanted.value());
    }

    @Test
    void aTryFailingInACombinedBatchFailsOnlyTheTriesAndTheUnlockIsStillDone() throws Exception {
        Connection connection = outsider();
        Session session = new Session(connection, backendPid(connection), 0, new WaitFlag());
        LockKey held = LockKey.of(21_011L);
        assertThat(session.tryLock(held, LockMode.EXCLUSIVE)).isTrue();
        Connection hog = outsider();
        List<Future<Boolean>> answers;
        try {
            fillLockTable(hog);
            answers = queuedTogether(session, () -> session.tryLock(LockKey.of(21_012L), LockMode.EXCLUSIVE),
                    () -> session.tryLock(LockKey.of(21_013L), LockMode.EXCLUSIVE),
                    () -> session.unlock(held, LockMode.EXCLUSIVE));
            for (Future<Boolean> answer : answers) {
                try {
                    answer.get(10, TimeUnit.SECONDS);
                } catch (ExecutionException expected) {
                    // checked below
                }
            }
        } finally {
            unlockAll(hog);
        }

        for (Future<Boolean> tryAnswer : answers.subList(0, 2)) {
            assertThat(failureOf(tryAnswer)).as("each try's failure").isInstanceOf(SQLException.class)
                    .extracting(failure -> ((SQLException) failure).getSQLState()).isEqualTo("53200");
        }
        assertThat(answers.get(2).get()).as("the unlock, done by the statement that undid the tries").isTrue();
        assertThat(connection.isClosed()).as("the session is kept").isFalse();
        assertThat(heldBy(connection)).isEmpty();
    }

    /**
     * Holds the session's connection while each call queues on its own thread, then lets it go:
     * the first woken sends them all at once.
     */
    @SafeVarargs
    private List<Future<Boolean>> queuedTogether(Session session, Callable<Boolean>... calls) {
        List<Future<Boolean>> answers = new ArrayList<>();
        List<Thread> threads = new CopyOnWriteArrayList<>();
        session.io.lock();
        try {
            for (Callable<Boolean> call : calls) {
                answers.add(callers.submit(() -> {
                    threads.add(Thread.currentThread());
                    return call.call();
                }));
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> threads.size() == calls.length
                    && threads.stream().allMatch(thread -> LockSupport.getBlocker(thread) == session));
            executed.set(0);
        } finally {
            session.releaseIo();
        }
        return answers;
    }

    private static Throwable failureOf(Future<Boolean> answer) throws InterruptedException {
        try {
            answer.get();
            throw new AssertionError("expected a failure, got an answer");
        } catch (ExecutionException e) {
            return e.getCause();
        }
    }

    /** The bigint advisory keys the connection's session holds, from {@code pg_locks}. */
    private static List<Long> heldBy(Connection connection) throws SQLException {
        List<Long> keys = new ArrayList<>();
        try (Connection observer = DB.connect();
                PreparedStatement statement = observer.prepareStatement("SELECT (classid::bigint << 32) | objid::bigint"
                        + " FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = ?")) {
            statement.setInt(1, backendPid(connection));
            try (var rows = statement.executeQuery()) {
                while (rows.next()) {
                    keys.add(rows.getLong(1));
                }
            }
        }
        return keys;
    }

    /** Takes locks from {@code connection} until the server's lock table is full. */
    private static void fillLockTable(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute("SELECT pg_advisory_lock(6000000000 + i) FROM generate_series(1, 10000000) AS i");
            throw new AssertionError("the lock table never filled");
        } catch (SQLException e) {
            assertThat(e.getSQLState()).isEqualTo("53200");
        }
    }

    /** {@code connection}, counting the statements it executes. */
    private Connection counting(Connection connection) {
        return recordingExecutions(connection, sql -> executed.incrementAndGet());
    }
}
