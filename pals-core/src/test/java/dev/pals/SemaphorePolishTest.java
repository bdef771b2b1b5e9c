package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A semaphore as its users see it: observed as one semaphore, not as the locks it is made of; its
 * failures named as a semaphore's; its handles in one registry sharing one state.
 */
class SemaphorePolishTest extends LockTestSupport {

    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final List<HikariDataSource> otherPools = new ArrayList<>();
    private final LockObserverTest.Recorder recorder = new LockObserverTest.Recorder();

    @AfterEach
    void stopThreads() {
        threads.shutdownNow();
        otherPools.forEach(HikariDataSource::close);
    }

    private LockRegistry observed() {
        return registry(LockRegistry.builder(dataSource).namespace(namespace).observer(recorder)
                .lossCheckInterval(Duration.ofMillis(200)));
    }

    private LockRegistry otherInstance() {
        HikariDataSource pool = DB.dataSource(10);
        otherPools.add(pool);
        return registry(LockRegistry.builder(pool).namespace(namespace));
    }

    @Test
    void aPermitIsObservedAsOneAcquisitionAndOneSectionOfTheSemaphoresName() {
        AdvisorySemaphore exports = observed().semaphore("exports", 2);

        try (HeldPermit permit = exports.hold(Duration.ZERO)) {
            assertThat(permit.isHeld()).isTrue();
        }

        assertThat(recorder.events).containsExactly("start exports exports SESSION tries", "held exports",
                "end exports ACQUIRED", "released exports");
    }

    @Test
    void aTryWithNoPermitFreeIsOneContendedAcquisition() {
        AdvisorySemaphore elsewhere = otherInstance().semaphore("exports", 1);
        assertThat(elsewhere.tryAcquire()).isTrue();

        assertThat(observed().semaphore("exports", 1).tryAcquire()).isFalse();

        assertThat(recorder.events).containsExactly("start exports exports SESSION tries", "end exports CONTENDED");
        assertThat(elsewhere.release()).isTrue();
    }

    @Test
    void aWaitThatRunsOutIsOneTimedOutAcquisitionAndWaitsAsTheSemaphore() throws Exception {
        AdvisorySemaphore elsewhere = otherInstance().semaphore("exports", 1);
        assertThat(elsewhere.tryAcquire()).isTrue();
        LockRegistry registry = observed();
        AdvisorySemaphore here = registry.semaphore("exports", 1);

        Future<Boolean> waiting = threads.submit(() -> here.tryAcquire(Duration.ofMillis(1500)));
        await().atMost(Duration.ofSeconds(10)).until(() -> grantedOnServer(queueOf(here)) == 1);
        assertThat(registry.waitingLocks()).isOne();
        assertThat(registry.activity()).singleElement().satisfies(activity -> {
            assertThat(activity.state()).isEqualTo(LockActivity.State.WAITING);
            assertThat(activity.lock().name()).isEqualTo("exports");
        });

        assertThat(waiting.get(30, TimeUnit.SECONDS)).isFalse();
        assertThat(recorder.events).containsExactly("start exports exports SESSION waits", "end exports TIMED_OUT");
        assertThat(elsewhere.release()).isTrue();
    }

    @Test
    void anInterruptedWaitIsOneFailedAcquisitionWithTheInterrupt() {
        AdvisorySemaphore elsewhere = otherInstance().semaphore("exports", 1);
        assertThat(elsewhere.tryAcquire()).isTrue();
        AdvisorySemaphore here = observed().semaphore("exports", 1);

        Thread.currentThread().interrupt();
        assertThatThrownBy(() -> here.tryAcquire(Duration.ofSeconds(10))).isInstanceOf(InterruptedException.class);

        assertThat(recorder.events).containsExactly("start exports exports SESSION waits",
                "end exports FAILED InterruptedException");
        assertThat(elsewhere.release()).isTrue();
    }

    @Test
    void heldPermitsCountOnceEachAndShowAsPermitsOfTheirCount() {
        LockRegistry registry = observed();
        AdvisorySemaphore exports = registry.semaphore("exports", 2);
        HeldPermit first = exports.hold(Duration.ZERO);
        HeldPermit second = exports.hold(Duration.ZERO);

        assertThat(registry.heldLocks()).isEqualTo(2);
        assertThat(registry.activity()).extracting(activity -> activity.lock().name())
                .containsExactlyInAnyOrder("exports [permit 0 of 2]", "exports [permit 1 of 2]");

        first.close();
        second.close();
        assertThat(registry.heldLocks()).isZero();
    }

    @Test
    void aLostPermitEndsTheSemaphoresSectionAsLostAndIsTheOnlyLossTold() throws Exception {
        List<String> told = new CopyOnWriteArrayList<>();
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).observer(recorder)
                .lossCheckInterval(Duration.ofMillis(100)).lossListener((lock, e) -> told.add(lock.name())));
        HeldPermit permit = registry.semaphore("exports", 1).hold(Duration.ZERO);

        DB.terminateSessions(dataSource.getPoolName());

        await().atMost(Duration.ofSeconds(10)).until(() -> recorder.events.contains("lost exports"));
        await().atMost(Duration.ofSeconds(10)).until(() -> !told.isEmpty());
        assertThat(told).containsExactly("exports [permit 0 of 1]");
        assertThat(registry.heldLocks()).isZero();
        assertThatThrownBy(permit::close).isInstanceOf(LockLostException.class);
    }

    @Test
    void aContendedHoldNamesTheSemaphoreAndItsCount() {
        AdvisorySemaphore elsewhere = otherInstance().semaphore("exports", 2);
        assertThat(elsewhere.tryAcquire()).isTrue();
        assertThat(elsewhere.tryAcquire()).isTrue();
        AdvisorySemaphore here = registry().semaphore("exports", 2);

        assertThatThrownBy(() -> here.hold(Duration.ZERO)).isInstanceOfSatisfying(AcquireFailureException.class, e -> {
            assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED);
            assertThat(e.lockName()).isEqualTo("exports");
            assertThat(e).hasMessageContaining("no permit of semaphore 'exports' (2 permits) was free")
                    .hasMessageNotContaining("exclusive lock");
        });
        assertThatThrownBy(() -> here.hold(Duration.ofMillis(100))).isInstanceOfSatisfying(
                AcquireFailureException.class, e -> {
                    assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.TIMED_OUT);
                    assertThat(e).hasMessageContaining("no permit of semaphore 'exports' (2 permits) was free")
                            .hasMessageContaining("waited PT0.1S").hasMessageNotContaining("exclusive lock");
                });
        assertThat(elsewhere.release()).isTrue();
        assertThat(elsewhere.release()).isTrue();
    }

    @Test
    void aHandleSkipsTheAgreementCheckWhileAnotherHandleOfItsRegistryHoldsAPermit() throws Exception {
        LockRegistry registry = registry();
        AdvisorySemaphore first = registry.semaphore("exports", 2);
        assertThat(first.tryAcquire()).isTrue();
        // a count lock of another count, taken by hand after the check: only a check would see it
        Connection outsider = outsider();
        try (PreparedStatement statement = outsider.prepareStatement("SELECT pg_advisory_lock_shared(?, ?)")) {
            statement.setInt(1, (int) first.classId());
            statement.setInt(2, AdvisorySemaphore.MARKER_BASE + 3);
            statement.execute();
        }

        AdvisorySemaphore second = registry.semaphore("exports", 2);
        assertThat(second.tryAcquire()).as("no check while the registry holds a permit of the semaphore").isTrue();
        assertThat(second.release()).isTrue();
        assertThat(first.release()).isTrue();

        assertThatThrownBy(second::tryAcquire).as("checked again once the registry held none")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("with 3 permits");
        unlockAll(outsider);
    }

    @Test
    void aLostPermitNotYetGivenBackDoesNotSwitchOffTheAgreementCheck() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .lossCheckInterval(Duration.ofMillis(100)));
        AdvisorySemaphore first = registry.semaphore("exports", 2);
        HeldPermit lost = first.hold(Duration.ZERO);
        DB.terminateSessions(dataSource.getPoolName());
        await().atMost(Duration.ofSeconds(10)).until(() -> !lost.isHeld());
        // an instance with another count, now free to take its count lock: the registry covers nothing
        Connection outsider = outsider();
        try (PreparedStatement statement = outsider.prepareStatement("SELECT pg_advisory_lock_shared(?, ?)")) {
            statement.setInt(1, (int) first.classId());
            statement.setInt(2, AdvisorySemaphore.MARKER_BASE + 3);
            statement.execute();
        }

        assertThatThrownBy(() -> registry.semaphore("exports", 2).tryAcquire())
                .as("checked, though the lost permit was not given back yet")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("with 3 permits");
        assertThatThrownBy(lost::close).isInstanceOf(LockLostException.class);
        unlockAll(outsider);
    }

    @Test
    void aReleaseWakesTheQueueHeadWaitingOnAnotherHandleOfTheRegistryAtOnce() throws Exception {
        LockRegistry registry = registry();
        AdvisorySemaphore holder = registry.semaphore("exports", 1);
        for (int round = 0; round < 3; round++) {
            assertThat(holder.tryAcquire()).isTrue();
            AdvisorySemaphore waiter = registry.semaphore("exports", 1);
            Future<Long> acquiredAt = threads.submit(() -> {
                assertThat(waiter.tryAcquire(Duration.ofSeconds(30))).isTrue();
                return System.nanoTime();
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> grantedOnServer(queueOf(holder)) == 1);
            // the head backs off to its longest interval meanwhile, and must still not get in
            await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(1)).until(() -> !acquiredAt.isDone());

            long releasedAt = System.nanoTime();
            assertThat(holder.release()).isTrue();

            Duration handedOver = Duration.ofNanos(acquiredAt.get(30, TimeUnit.SECONDS) - releasedAt);
            assertThat(handedOver).as("round %d", round).isLessThan(Duration.ofMillis(50));
            assertThat(waiter.release()).isTrue();
        }
    }

    @Test
    void theStateOfSemaphoresNoHandleNeedsIsNotKept() {
        LockRegistry registry = registry(LockRegistry.inMemory());
        for (int i = 0; i < 2_000; i++) {
            AdvisorySemaphore perAccount = registry.semaphore("account:" + i, 2);
            assertThat(perAccount.tryAcquire()).isTrue();
            assertThat(perAccount.release()).isTrue();
        }
        AdvisorySemaphore kept = registry.semaphore("kept", 2);
        HeldPermit held = kept.hold(Duration.ZERO);

        await().atMost(Duration.ofSeconds(20)).until(() -> {
            System.gc();
            registry.semaphore("probe", 1);
            return registry.semaphoreStates().size() <= 3;
        });
        assertThat(registry.semaphore("kept", 2).heldPermits()).as("another handle's permits are its own").isZero();
        assertThat(held.isHeld()).isTrue();
        held.close();
    }

    @Test
    void inMemoryHandlesShareTheirStateAndAreObservedAsTheSemaphore() throws Exception {
        LockRegistry registry = registry(LockRegistry.inMemory().observer(recorder));
        AdvisorySemaphore one = registry.semaphore("exports", 1);
        AdvisorySemaphore other = registry.semaphore("exports", 1);
        assertThat(one.tryAcquire()).isTrue();
        assertThat(other.tryAcquire()).isFalse();
        assertThat(registry.heldLocks()).isOne();

        Future<Boolean> waiting = threads.submit(() -> other.tryAcquire(Duration.ofSeconds(30)));
        await().atMost(Duration.ofSeconds(10)).until(() -> registry.waitingLocks() == 1);
        assertThat(one.release()).isTrue();
        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(other.release()).isTrue();

        assertThat(recorder.events).containsExactly("start exports exports SESSION tries", "held exports",
                "end exports ACQUIRED", "start exports exports SESSION tries", "end exports CONTENDED",
                "start exports exports SESSION waits", "released exports", "held exports", "end exports ACQUIRED",
                "released exports");
    }

    private static LockKey queueOf(AdvisorySemaphore semaphore) {
        return LockKey.of((int) semaphore.classId(), AdvisorySemaphore.QUEUE);
    }
}
