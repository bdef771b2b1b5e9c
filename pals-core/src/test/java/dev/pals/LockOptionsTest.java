package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@link LockOptions#withMode}: a copy in another mode, which a handle then takes its lock in. */
class LockOptionsTest extends LockTestSupport {

    @Test
    void withModeChangesOnlyTheModeOfACopy() {
        LockOptions exclusive = LockOptions.exclusive().withBlocking(false).withTimeout(Duration.ofSeconds(3))
                .withGroup("jobs");

        LockOptions shared = exclusive.withMode(LockMode.SHARED);

        assertThat(shared.mode()).isEqualTo(LockMode.SHARED);
        assertThat(shared.blocking()).isFalse();
        assertThat(shared.timeout()).isEqualTo(Duration.ofSeconds(3));
        assertThat(shared.group()).isEqualTo("jobs");
        assertThat(exclusive.mode()).as("the original").isEqualTo(LockMode.EXCLUSIVE);
    }

    @Test
    void handlesTakeTheirLockInTheModeWithModeGave() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock reader = registry.lock("doc", LockOptions.exclusive().withMode(LockMode.SHARED));
        AdvisoryLock otherReader = registry().lock("doc", LockOptions.shared());
        AdvisoryLock writer = registry().lock("doc", LockOptions.shared().withMode(LockMode.EXCLUSIVE));

        assertThat(reader.mode()).isEqualTo(LockMode.SHARED);
        assertThat(writer.mode()).isEqualTo(LockMode.EXCLUSIVE);
        assertThat(reader.tryAcquire()).isTrue();
        assertThat(otherReader.tryAcquire()).as("a second reader, in another registry").isTrue();
        assertThat(writer.tryAcquire()).as("a writer, in a third registry").isFalse();
        reader.release();
        otherReader.release();
        assertThat(writer.tryAcquire()).isTrue();
        writer.release();
    }

    @Test
    void withModeRefusesNullNamingTheArgument() {
        assertThatThrownBy(() -> LockOptions.exclusive().withMode(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("mode");
    }
}
