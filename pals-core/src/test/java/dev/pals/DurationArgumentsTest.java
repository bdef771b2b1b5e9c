package dev.pals;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A negative or absurd duration given to a method is refused with {@link IllegalArgumentException}
 * naming the argument and what it accepts, before anything is asked of the server.
 */
class DurationArgumentsTest extends LockTestSupport {

    /** One millisecond past what PostgreSQL's {@code lock_timeout} can express. */
    private static final Duration ABSURD = LockRegistry.LONGEST_WAIT.plusMillis(1);

    @Test
    void waitsOfAHandleAreRefusedWhenNegativeOrBeyondTheLongestWait() {
        AdvisoryLock lock = registry().lock("x");

        assertThatThrownBy(() -> lock.tryAcquire(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("timeout must not be negative, but was PT-1S");
        assertThatThrownBy(() -> lock.tryAcquire(ABSURD)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("timeout PT596H31M23.648S is longer than PostgreSQL can wait (PT596H31M23.647S)")
                .hasMessageContaining("LockRegistry.FOREVER");
        assertThatThrownBy(() -> lock.hold(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("timeout must not be negative");
        assertThatThrownBy(() -> lock.acquireAsync(ABSURD)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is longer than PostgreSQL can wait");
        assertThatThrownBy(() -> LockOptions.exclusive().withTimeout(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("timeout must not be negative");
    }

    @Test
    void releaseAfterRefusesADelayThatIsNegativeOrBeyondTheLongestWait() {
        AdvisoryLock lock = registry().lock("x");

        assertThatThrownBy(() -> lock.releaseAfter(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("delay must be between 0 and PT596H31M23.647S, but was PT-1S");
        assertThatThrownBy(() -> lock.releaseAfter(ABSURD)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("delay must be between 0 and PT596H31M23.647S, but was PT596H31M23.648S");
    }

    @Test
    void transactionLockWaitsAreRefusedWhenNegativeOrBeyondTheLongestWait() throws Exception {
        TransactionLock lock = registry().transactionLock("x", LockMode.EXCLUSIVE);
        Connection transaction = outsider();
        transaction.setAutoCommit(false);

        assertThatThrownBy(() -> lock.tryAcquire(transaction, Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("timeout must not be negative");
        assertThatThrownBy(() -> lock.hold(transaction, ABSURD)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is longer than PostgreSQL can wait");
        transaction.rollback();
    }

    @Test
    void executeLockedAndCloseGracefullyRefuseANegativeTimeout() {
        LockRegistry registry = registry();

        assertThatThrownBy(() -> registry.executeLocked("x", Duration.ofSeconds(-1), () -> "ran"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("timeout must not be negative");
        assertThatThrownBy(() -> registry.closeGracefully(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("timeout must not be negative, but was PT-1S");
    }

    @Test
    void leaderElectionRetryIntervalMustBePositive() {
        LeaderElection.Builder election = LeaderElection.builder(registry(), "leader");

        assertThatThrownBy(() -> election.retryInterval(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("retryInterval must be positive, but was PT0S");
        assertThatThrownBy(() -> election.retryInterval(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("retryInterval must be positive, but was PT-0.001S");
    }
}
