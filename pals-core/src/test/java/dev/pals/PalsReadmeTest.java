package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.ref.Reference;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The walk-through of PALs' README, against a real server. A handle that holds the lock others
 * contend for is kept reachable to the end of its test: the cleaner releases a collected one.
 */
class PalsReadmeTest extends LockTestSupport {

    @Test
    void secondHandleOnSameNameFailsTryAcquireInSameThread() {
        LockRegistry registry = registry();
        AdvisoryLock lock1 = registry.lock("my-lock");
        AdvisoryLock lock2 = registry.lock("my-lock");

        assertThat(lock1.tryAcquire()).isTrue();
        assertThat(lock2.tryAcquire()).isFalse();
        assertThat(lock1.isHeld()).isTrue();
        assertThat(lock2.isHeld()).isFalse();
    }

    @Test
    void timedWaitReturnsFalseAfterAtLeastTheTimeout() throws InterruptedException {
        LockRegistry registry = registry();
        AdvisoryLock lock1 = registry.lock("my-lock");
        assertThat(lock1.tryAcquire()).isTrue();
        AdvisoryLock lock2 = registry.lock("my-lock");

        long started = System.nanoTime();
        boolean acquired = lock2.tryAcquire(Duration.ofMillis(300));
        Duration waited = Duration.ofNanos(System.nanoTime() - started);

        assertThat(acquired).isFalse();
        assertThat(waited).isGreaterThanOrEqualTo(Duration.ofMillis(300)).isLessThan(Duration.ofSeconds(20));
        Reference.reachabilityFence(lock1);
    }

    @Test
    void secondHandleAcquiresAfterFirstReleases() {
        LockRegistry registry = registry();
        AdvisoryLock lock1 = registry.lock("my-lock");
        AdvisoryLock lock2 = registry.lock("my-lock");
        lock1.tryAcquire();

        assertThat(lock1.release()).isTrue();

        assertThat(lock2.tryAcquire()).isTrue();
        assertThat(lock1.release()).isFalse();
    }

    @Test
    void scopedHoldReleasesOnExit() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("my-lock");

        try (HeldLock held = lock.hold()) {
            assertThat(held.isHeld()).isTrue();
            assertThat(grantedOnServer(lock.key())).isEqualTo(1);
        }

        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
    }

    @Test
    void scopedHoldReleasesWhenTheBlockThrows() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("my-lock");

        assertThatThrownBy(() -> {
            try (HeldLock held = lock.hold()) {
                throw new IllegalStateException("boom");
            }
        }).hasMessage("boom");

        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
    }

    @Test
    void scopedHoldThrowsAcquireFailureNamingLockModeAndReasonWhenContended() {
        LockRegistry registry = registry();
        AdvisoryLock lock1 = registry.lock("my-lock");
        assertThat(lock1.tryAcquire()).isTrue();
        AdvisoryLock other = registry.lock("my-lock", LockOptions.exclusive().withBlocking(false));

        assertThatThrownBy(other::hold)
                .isInstanceOfSatisfying(AcquireFailureException.class, e -> {
                    assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED);
                    assertThat(e.lockName()).isEqualTo("my-lock");
                    assertThat(e.mode()).isEqualTo(LockMode.EXCLUSIVE);
                })
                .hasMessageContaining("'my-lock'").hasMessageContaining("exclusive");
        Reference.reachabilityFence(lock1);
    }

    @Test
    void scopedHoldThrowsTimedOutAfterWaiting() {
        LockRegistry registry = registry();
        AdvisoryLock lock1 = registry.lock("my-lock");
        assertThat(lock1.tryAcquire()).isTrue();

        assertThatThrownBy(() -> registry.lock("my-lock").hold(Duration.ofMillis(200)))
                .isInstanceOfSatisfying(AcquireFailureException.class,
                        e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.TIMED_OUT))
                .hasMessageContaining("timed out");
        Reference.reachabilityFence(lock1);
    }
}
