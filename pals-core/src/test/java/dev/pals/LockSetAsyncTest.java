package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A lock set acquired and released on the registry's threads, the caller's thread free at once. */
class LockSetAsyncTest extends LockTestSupport {

    @Test
    void anAsyncAcquisitionWaitsInTheServerForALaterMemberAndHoldsTheWholeSetOnceItIsFree() throws Exception {
        AdvisoryLockSet set = registry().locks(List.of("account:1", "account:2"));
        Connection holder = outsider();
        LockKey last = set.keys().get(1);
        lockFrom(holder, last);

        CompletableFuture<Boolean> pending = set.acquireAsync(Duration.ofSeconds(30));
        awaitServerWaiter(last);
        unlockAll(holder);

        assertThat(pending.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(set.isHeld()).isTrue();
        assertThat(grantedOnServer(set.keys().get(0))).isEqualTo(1);
        assertThat(grantedOnServer(last)).isEqualTo(1);
        assertThat(set.release()).isTrue();
    }

    @Test
    void anAsyncAcquisitionThatTimesOutOnALaterMemberLeavesTheEarlierOneFree() throws Exception {
        AdvisoryLockSet set = registry().locks(List.of("account:1", "account:2"));
        lockFrom(outsider(), set.keys().get(1));

        long started = System.nanoTime();
        assertThat(set.acquireAsync(Duration.ofMillis(300)).get(30, TimeUnit.SECONDS)).isFalse();

        assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        assertThat(set.isHeld()).isFalse();
        assertThat(grantedOnServer(set.keys().get(0))).isZero();
    }

    @Test
    void cancellingAnAsyncAcquisitionCancelsTheServerWaitAndGivesBackTheMembersItGot() throws Exception {
        AdvisoryLockSet set = registry().locks(List.of("account:1", "account:2"));
        LockKey last = set.keys().get(1);
        lockFrom(outsider(), last);

        CompletableFuture<Boolean> pending = set.acquireAsync(LockRegistry.FOREVER);
        awaitServerWaiter(last);
        assertThat(grantedOnServer(set.keys().get(0))).isEqualTo(1);
        pending.cancel(true);

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(waitingOnServer(last)).isZero();
            assertThat(grantedOnServer(set.keys().get(0))).isZero();
        });
        assertThat(set.isHeld()).isFalse();
    }

    @Test
    void anAsyncAcquisitionWithTheSetsDefaultsDoesNotWaitWhenTheSetIsNonBlocking() throws Exception {
        AdvisoryLockSet set = registry().locks(List.of("account:1", "account:2"),
                LockOptions.exclusive().withBlocking(false));
        lockFrom(outsider(), set.keys().get(1));

        assertThat(set.acquireAsync().get(30, TimeUnit.SECONDS)).isFalse();
        assertThat(grantedOnServer(set.keys().get(0))).isZero();
    }

    @Test
    void releaseAfterReleasesEveryMemberOnARegistryThreadOnceTheDelayPassed() throws Exception {
        AdvisoryLockSet set = registry().locks(List.of("account:1", "account:2"));
        assertThat(set.tryAcquire()).isTrue();

        CompletableFuture<Boolean> released = set.releaseAfter(Duration.ofMillis(200));
        assertThat(set.isHeld()).isTrue();

        assertThat(released.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(grantedOnServer(set.keys().get(0))).isZero();
        assertThat(grantedOnServer(set.keys().get(1))).isZero();
    }

    @Test
    void anInMemoryRegistryAcquiresASetAsynchronouslyAsPostgresqlDoes() throws Exception {
        try (LockRegistry registry = LockRegistry.inMemory().build()) {
            AdvisoryLockSet set = registry.locks(List.of("account:1", "account:2"));
            AdvisoryLock second = registry.lock("account:2");
            assertThat(second.tryAcquire()).isTrue();

            CompletableFuture<Boolean> pending = set.acquireAsync(Duration.ofSeconds(30));
            second.release();

            assertThat(pending.get(30, TimeUnit.SECONDS)).isTrue();
            assertThat(set.releaseAfter(Duration.ZERO).get(30, TimeUnit.SECONDS)).isTrue();
            assertThat(set.isHeld()).isFalse();
        }
    }
}
