package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Failures are loud: lost locks, a full lock table, and nothing left held afterwards. */
class FailureTest extends LockTestSupport {

    @Test
    void terminatedHoldingConnectionReportsItsLocksLost() throws Exception {
        List<String> lost = new CopyOnWriteArrayList<>();
        Duration lossCheckInterval = Duration.ofMillis(500);
        Duration networkTimeout = Duration.ofMillis(500);
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .lossCheckInterval(lossCheckInterval).networkTimeout(networkTimeout)
                .lossListener((lock, cause) -> lost.add(lock.name())));
        AdvisoryLock x = registry.lock("x");
        AdvisoryLock y = registry.lock("y", LockOptions.shared());
        assertThat(x.tryAcquire()).isTrue();
        assertThat(y.tryAcquire()).isTrue();

        DB.terminateSessions(dataSource.getPoolName());

        // documented: within lossCheckInterval plus networkTimeout
        await().atMost(lossCheckInterval.plus(networkTimeout).plus(SLACK))
                .until(() -> !x.isHeld() && !y.isHeld() && lost.size() == 2);
        assertThat(lost).containsExactlyInAnyOrder("x", "y");
        assertThatThrownBy(x::release).isInstanceOf(LockLostException.class)
                .hasMessageContaining("'x' was lost").hasMessageContaining("another holder may have taken it");
        assertThat(x.release()).as("the loss is reported once").isFalse();
        assertThat(x.tryAcquire()).as("the registry recovers with a new connection").isTrue();
        x.release();
        assertThatThrownBy(y::release).isInstanceOf(LockLostException.class);
    }

    @Test
    void lockLostWhileHeldMakesTheScopedHoldThrowOnExit() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .lossCheckInterval(Duration.ofMillis(200)));
        AdvisoryLock lock = registry.lock("x");

        assertThatThrownBy(() -> {
            try (HeldLock held = lock.hold()) {
                DB.terminateSessions(dataSource.getPoolName());
                await().atMost(Duration.ofSeconds(30)).until(() -> !held.isHeld());
            }
        }).isInstanceOf(LockLostException.class);
    }

    @Test
    void releaseOnADeadConnectionReportsTheLoss() throws Exception {
        // a long interval: the release, not the housekeeper, finds the connection dead
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .lossCheckInterval(Duration.ofHours(1)).silentClientTimeout(Duration.ofHours(3)));
        AdvisoryLock lock = registry.lock("x");
        lock.tryAcquire();

        DB.terminateSessions(dataSource.getPoolName());

        assertThatThrownBy(lock::release).isInstanceOf(LockLostException.class)
                .hasMessageContaining("'x' was lost");
        assertThat(lock.isHeld()).isFalse();
    }

    @Test
    void fullServerLockTableGivesAnExceptionPointingAtMaxLocksPerTransaction() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock first = registry.lock("first");
        assertThat(first.tryAcquire()).isTrue();
        Connection hog = outsider();
        fillLockTable(hog);
        try {
            assertThatThrownBy(() -> registry.lock("one-too-many").tryAcquire())
                    .isInstanceOf(LockCapacityException.class)
                    .hasMessageContaining("53200").hasMessageContaining("max_locks_per_transaction");
        } finally {
            try (Statement statement = hog.createStatement()) {
                statement.execute("SELECT pg_advisory_unlock_all()");
            }
        }
        assertThat(registry.lock("one-too-many").tryAcquire()).isTrue();
        assertThat(first.isHeld()).isTrue();
    }

    /** Takes advisory locks in a key range of its own until the server's lock table is full. */
    private static void fillLockTable(Connection connection) {
        try (Statement statement = connection.createStatement()) {
            statement.execute("SELECT pg_advisory_lock(4000000000 + i) FROM generate_series(1, 10000000) AS i");
            throw new AssertionError("the lock table never filled");
        } catch (SQLException e) {
            assertThat(e.getSQLState()).isEqualTo("53200");
        }
    }

}
