package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link AdvisoryLock#releaseAfter}: the hold-at-least of scheduled jobs. */
class ReleaseAfterTest extends LockTestSupport {

    @Test
    void theLockStaysHeldForTheDelayAndIsReleasedSoonAfter() throws Exception {
        // long enough for the checks during the delay on a slow machine, short enough to bound the release
        Duration delay = Duration.ofSeconds(1);
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("nightly");
        assertThat(lock.tryAcquire()).isTrue();
        long start = System.nanoTime();

        CompletableFuture<Boolean> released = lock.releaseAfter(delay);

        assertThat(lock.isHeld()).isTrue();
        assertThat(grantedOnServer(lock.key())).isEqualTo(1);
        assertThat(registry.lock("nightly").tryAcquire()).as("another handle during the delay").isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("the checks ran within the delay").isLessThan(delay);
        assertThat(released.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(delay, delay.plus(SLACK));
        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
    }

    @Test
    void closingTheRegistryFirstReleasesTheLockAndAnswersTrue() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("nightly");
        assertThat(lock.tryAcquire()).isTrue();
        CompletableFuture<Boolean> released = lock.releaseAfter(Duration.ofHours(1));

        registry.close();

        assertThat(released.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
    }

    @Test
    void aNegativeOrAbsurdDelayIsRefused() {
        AdvisoryLock lock = registry().lock("nightly");
        assertThatThrownBy(() -> lock.releaseAfter(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("between 0 and");
        assertThatThrownBy(() -> lock.releaseAfter(Duration.ofDays(365 * 300)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("between 0 and");
    }
}
