package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Waits are bounded by what PostgreSQL's lock_timeout can hold, and a timed-out wait says how long it waited. */
class TimeoutLimitsTest extends LockTestSupport {

    @Test
    void longestWaitIsAcceptedAndOneMillisecondMoreIsRejected() throws InterruptedException {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .acquireTimeout(LockRegistry.LONGEST_WAIT));
        AdvisoryLock lock = registry.lock("x");
        assertThat(lock.tryAcquire(LockRegistry.LONGEST_WAIT)).isTrue();
        lock.release();

        assertThatThrownBy(() -> registry.lock("y").tryAcquire(LockRegistry.LONGEST_WAIT.plusMillis(1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is longer than PostgreSQL can wait");
    }

    @Test
    void timedOutHoldSaysHowLongItWaited() {
        LockRegistry registry = registry();
        AdvisoryLock holder = registry.lock("x");
        assertThat(holder.tryAcquire()).isTrue();

        assertThatThrownBy(() -> registry.lock("x").hold(Duration.ofMillis(200)))
                .isInstanceOfSatisfying(AcquireFailureException.class,
                        e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.TIMED_OUT))
                .hasMessageContaining("waited PT0.2S");
        holder.release();
    }
}
