package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code executeLocked(name, task)}: the registry's defaults decide the wait, and the lock spans the task exactly. */
class ExecuteLockedTest extends LockTestSupport {

    @Test
    void theTaskRunsHoldingTheLockWhichIsReleasedWhenItReturns() throws Exception {
        LockRegistry registry = registry();
        LockKey key = LockKey.of(namespace, "job");

        String result = registry.executeLocked("job", () -> {
            assertThat(grantedOnServer(key)).as("held on the server during the task").isOne();
            assertThat(registry.lock("job").tryAcquire()).as("another handle during the task").isFalse();
            return "done";
        });

        assertThat(result).isEqualTo("done");
        assertThat(grantedOnServer(key)).isZero();
    }

    @Test
    void aTaskThatThrowsPassesItsExceptionOnAndTheLockIsReleased() throws Exception {
        LockRegistry registry = registry();

        assertThatThrownBy(() -> registry.executeLocked("job", () -> {
            throw new IOException("the task failed");
        })).isInstanceOf(IOException.class).hasMessage("the task failed");

        assertThat(grantedOnServer(LockKey.of(namespace, "job"))).isZero();
    }

    @Test
    void itWaitsTheRegistrysAcquireTimeoutThenFailsAsTimedOutWithoutRunningTheTask() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .acquireTimeout(Duration.ofMillis(300)));
        lockFrom(outsider(), LockKey.of(namespace, "job"));
        List<String> ran = new ArrayList<>();

        long started = System.nanoTime();
        assertThatThrownBy(() -> registry.executeLocked("job", () -> ran.add("ran")))
                .isInstanceOfSatisfying(AcquireFailureException.class,
                        e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.TIMED_OUT))
                .hasMessageContaining("'job'").hasMessageContaining("waited PT0.3S");

        assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        assertThat(ran).isEmpty();
    }

    @Test
    void aNonBlockingRegistryTriesOnceAndFailsAsContendedWithoutRunningTheTask() throws Exception {
        // a bounded timeout: a wait where the one try belongs ends as TIMED_OUT instead of hanging
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .blocking(false).acquireTimeout(Duration.ofSeconds(10)));
        lockFrom(outsider(), LockKey.of(namespace, "job"));
        List<String> ran = new ArrayList<>();

        assertThatThrownBy(() -> registry.executeLocked("job", () -> ran.add("ran")))
                .isInstanceOfSatisfying(AcquireFailureException.class,
                        e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED))
                .hasMessageContaining("'job'");

        assertThat(ran).isEmpty();
    }
}
