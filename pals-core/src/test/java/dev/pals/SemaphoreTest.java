package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link AdvisorySemaphore} on a real server, several registries standing for several instances. */
class SemaphoreTest extends LockTestSupport {

    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final List<HikariDataSource> otherPools = new ArrayList<>();

    @AfterEach
    void stopThreads() {
        threads.shutdownNow();
        otherPools.forEach(HikariDataSource::close);
    }

    /** A registry on a pool of its own, as another instance of the service would have. */
    private LockRegistry otherInstance() {
        HikariDataSource pool = DB.dataSource(10);
        otherPools.add(pool);
        return registry(LockRegistry.builder(pool).namespace(namespace).lossCheckInterval(Duration.ofMillis(200)));
    }

    @Test
    void threeInstancesOfFourThreadsNeverHaveMoreThanTwoInsideAndUseBoth() throws Exception {
        List<AdvisorySemaphore> semaphores = List.of(registry().semaphore("work", 2),
                otherInstance().semaphore("work", 2), otherInstance().semaphore("work", 2));
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        Set<Integer> slotsUsed = ConcurrentHashMap.newKeySet();
        List<Future<?>> work = new ArrayList<>();
        for (AdvisorySemaphore semaphore : semaphores) {
            for (int t = 0; t < 4; t++) {
                work.add(threads.submit(() -> {
                    for (int i = 0; i < 10; i++) {
                        try (HeldPermit permit = semaphore.hold(Duration.ofSeconds(30))) {
                            most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                            slotsUsed.add(permit.slot());
                            // the work inside, on the server, long enough for the others to pile up
                            observe("SELECT count(*) FROM pg_sleep(0.005)");
                            inside.decrementAndGet();
                        }
                    }
                    return null;
                }));
            }
        }
        for (Future<?> done : work) {
            done.get(60, TimeUnit.SECONDS);
        }

        assertThat(most.get()).as("most holders inside at once").isEqualTo(2);
        assertThat(slotsUsed).containsExactlyInAnyOrder(0, 1);
        semaphores.forEach(semaphore -> assertThat(semaphore.isHeld()).isFalse());
    }

    @Test
    void aHeldPermitIsAnAdvisoryLockOnTheSemaphoresClassIdInPgLocks() throws Exception {
        AdvisorySemaphore semaphore = registry().semaphore("work", 3);
        assertThat(semaphore.classId()).isEqualTo(LockKey.of(namespace, "work").classId());

        try (HeldPermit permit = semaphore.hold()) {
            assertThat(observe("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    + "AND classid = ? AND objsubid = 2 AND objid < 3", semaphore.classId())).isEqualTo(1);
            assertThat(grantedOnServer(LockKey.of((int) semaphore.classId(), permit.slot()))).isEqualTo(1);
            assertThat(semaphore.heldPermits()).isEqualTo(1);
        }
        assertThat(observe("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = ?",
                semaphore.classId())).isZero();
    }

    @Test
    void tryAcquireIsRefusedWhileEveryPermitIsHeldElsewhere() {
        AdvisorySemaphore here = registry().semaphore("work", 2);
        AdvisorySemaphore elsewhere = otherInstance().semaphore("work", 2);
        assertThat(elsewhere.tryAcquire()).isTrue();
        assertThat(elsewhere.tryAcquire()).isTrue();

        assertThat(here.tryAcquire()).isFalse();
        assertThat(here.isHeld()).isFalse();

        assertThat(elsewhere.release()).isTrue();
        assertThat(here.tryAcquire()).isTrue();
        assertThat(here.release()).isTrue();
        assertThat(elsewhere.release()).isTrue();
    }

    @Test
    void oneHandleSharedByThreadsHoldsAtMostItsPermits() throws Exception {
        AdvisorySemaphore semaphore = registry().semaphore("work", 3);
        List<Future<Boolean>> tries = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            tries.add(threads.submit(() -> semaphore.tryAcquire()));
        }
        int taken = 0;
        for (Future<Boolean> each : tries) {
            taken += each.get(30, TimeUnit.SECONDS) ? 1 : 0;
        }

        assertThat(taken).isEqualTo(3);
        assertThat(semaphore.heldPermits()).isEqualTo(3);
        for (int i = 0; i < 3; i++) {
            assertThat(semaphore.release()).isTrue();
        }
        assertThat(semaphore.release()).as("a fourth release, of a permit not held").isFalse();
    }

    @Test
    void releasingWithoutAPermitReturnsFalseAndClosingAPermitTwiceReleasesOnce() throws Exception {
        AdvisorySemaphore semaphore = registry().semaphore("work", 2);
        assertThat(semaphore.release()).isFalse();

        HeldPermit first = semaphore.hold();
        HeldPermit second = semaphore.hold();
        first.close();
        first.close();

        assertThat(first.isHeld()).isFalse();
        assertThat(second.isHeld()).isTrue();
        assertThat(semaphore.heldPermits()).isEqualTo(1);
        second.close();
        assertThat(semaphore.release()).isFalse();
    }

    @Test
    void aTimedWaitGivesUpAfterItsTimeoutHoldingNothing() {
        AdvisorySemaphore elsewhere = otherInstance().semaphore("work", 1);
        assertThat(elsewhere.tryAcquire()).isTrue();
        AdvisorySemaphore here = registry().semaphore("work", 1);

        long start = System.nanoTime();
        assertThatThrownBy(() -> here.hold(Duration.ofMillis(300))).isInstanceOfSatisfying(
                AcquireFailureException.class,
                e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.TIMED_OUT));
        Duration waited = Duration.ofNanos(System.nanoTime() - start);

        assertThat(waited).isBetween(Duration.ofMillis(300), Duration.ofMillis(300).plus(SLACK));
        assertThat(here.isHeld()).isFalse();
        assertThat(elsewhere.release()).isTrue();
    }

    @Test
    void waitersQueueInTheServerAndAreHandedThePermitOnRelease() throws Exception {
        AdvisorySemaphore elsewhere = otherInstance().semaphore("work", 1);
        assertThat(elsewhere.tryAcquire()).isTrue();
        AdvisorySemaphore first = registry().semaphore("work", 1);
        AdvisorySemaphore second = otherInstance().semaphore("work", 1);
        LockKey queue = LockKey.of((int) first.classId(), AdvisorySemaphore.QUEUE);

        Future<Boolean> firstWaits = threads.submit(() -> first.tryAcquire(Duration.ofSeconds(30)));
        await().atMost(Duration.ofSeconds(30)).until(() -> grantedOnServer(queue) == 1);
        Future<Boolean> secondWaits = threads.submit(() -> second.tryAcquire(Duration.ofSeconds(30)));
        awaitServerWaiter(queue);
        assertThat(firstWaits).isNotDone();

        assertThat(elsewhere.release()).isTrue();
        assertThat(firstWaits.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(secondWaits).isNotDone();
        assertThat(first.release()).isTrue();
        assertThat(secondWaits.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(second.release()).isTrue();
    }

    @Test
    void anInterruptedWaiterStopsWaitingInTheServerAndHoldsNothing() throws Exception {
        AdvisorySemaphore elsewhere = otherInstance().semaphore("work", 1);
        assertThat(elsewhere.tryAcquire()).isTrue();
        AdvisorySemaphore head = registry().semaphore("work", 1);
        AdvisorySemaphore queued = otherInstance().semaphore("work", 1);
        LockKey queue = LockKey.of((int) head.classId(), AdvisorySemaphore.QUEUE);
        Future<Boolean> headWaits = threads.submit(() -> head.tryAcquire(Duration.ofSeconds(30)));
        await().atMost(Duration.ofSeconds(30)).until(() -> grantedOnServer(queue) == 1);
        Future<Boolean> queuedWaits = threads.submit(() -> queued.tryAcquire(Duration.ofSeconds(30)));
        awaitServerWaiter(queue);

        queuedWaits.cancel(true);
        headWaits.cancel(true);

        await().atMost(Duration.ofSeconds(10)).until(() -> waitingOnServer(queue) == 0 && grantedOnServer(queue) == 0);
        assertThat(head.isHeld()).isFalse();
        assertThat(queued.isHeld()).isFalse();
        assertThat(elsewhere.release()).isTrue();
        assertThat(head.tryAcquire()).as("the interrupted waiters left the permit free").isTrue();
        assertThat(head.release()).isTrue();
    }

    @Test
    void anInterruptedCallerGetsInterruptedExceptionAndNoPermit() throws Exception {
        AdvisorySemaphore elsewhere = otherInstance().semaphore("work", 1);
        assertThat(elsewhere.tryAcquire()).isTrue();
        AdvisorySemaphore here = registry().semaphore("work", 1);
        LockKey queue = LockKey.of((int) here.classId(), AdvisorySemaphore.QUEUE);
        CopyOnWriteArrayList<Throwable> thrown = new CopyOnWriteArrayList<>();
        Thread waiter = new Thread(() -> {
            try {
                here.tryAcquire(Duration.ofSeconds(30));
            } catch (Throwable e) {
                thrown.add(e);
            }
        });
        waiter.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> grantedOnServer(queue) == 1);

        waiter.interrupt();
        waiter.join(10_000);

        assertThat(thrown).singleElement().isInstanceOf(InterruptedException.class);
        assertThat(here.isHeld()).isFalse();
        assertThat(grantedOnServer(queue)).isZero();
        assertThat(elsewhere.release()).isTrue();
    }

    @Test
    void aPermitWhoseSessionIsTerminatedIsReportedLostAndFreedForAnotherInstance() throws Exception {
        List<LockLostException> losses = new CopyOnWriteArrayList<>();
        LockRegistry holderRegistry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .lossCheckInterval(Duration.ofMillis(200)).lossListener((lock, e) -> losses.add(e)));
        AdvisorySemaphore holder = holderRegistry.semaphore("work", 1);
        HeldPermit permit = holder.hold();
        AdvisorySemaphore waiter = otherInstance().semaphore("work", 1);
        Future<Boolean> waiting = threads.submit(() -> waiter.tryAcquire(Duration.ofSeconds(30)));
        LockKey queue = LockKey.of((int) holder.classId(), AdvisorySemaphore.QUEUE);
        await().atMost(Duration.ofSeconds(30)).until(() -> grantedOnServer(queue) == 1);

        DB.terminateSessions(dataSource.getPoolName());

        assertThat(waiting.get(30, TimeUnit.SECONDS)).as("the waiter got the crashed holder's permit").isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> !holder.isHeld());
        assertThat(losses).extracting(LockLostException::lockName).contains("work [permit 0 of 1]");
        assertThat(permit.isHeld()).isFalse();
        assertThatThrownBy(permit::close).isInstanceOf(LockLostException.class);
        assertThat(waiter.release()).isTrue();
    }

    @Test
    void anInstanceWithAnotherNumberOfPermitsIsRefusedNamingBothWhileTheOthersHold() {
        AdvisorySemaphore two = otherInstance().semaphore("work", 2);
        assertThat(two.tryAcquire()).isTrue();
        AdvisorySemaphore three = registry().semaphore("work", 3);

        assertThatThrownBy(three::tryAcquire).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("has 3 permits here").hasMessageContaining("with 2 permits");
        assertThat(three.isHeld()).isFalse();
        assertThatThrownBy(() -> three.tryAcquire(Duration.ofSeconds(5))).isInstanceOf(IllegalStateException.class);

        assertThat(two.release()).isTrue();
        assertThat(three.tryAcquire()).as("with no holder of another count left, three permits are fine").isTrue();
        assertThatThrownBy(two::tryAcquire).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("has 2 permits here").hasMessageContaining("with 3 permits");
        assertThat(three.release()).isTrue();
    }

    @Test
    void permitsOutsideOneToTheMaximumAreRefused() {
        LockRegistry registry = registry();
        assertThatThrownBy(() -> registry.semaphore("work", 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> registry.semaphore("work", AdvisorySemaphore.MAX_PERMITS + 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> registry.semaphore(" ", 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void anInMemoryRegistryLetsPermitsHoldersInAndRefusesAnotherCount() throws ExecutionException, InterruptedException {
        LockRegistry registry = registry(LockRegistry.inMemory());
        AdvisorySemaphore one = registry.semaphore("work", 2);
        AdvisorySemaphore other = registry.semaphore("work", 2);
        assertThat(one.tryAcquire()).isTrue();
        assertThat(other.tryAcquire()).isTrue();
        assertThat(other.tryAcquire(Duration.ofMillis(50))).isFalse();
        assertThatThrownBy(() -> registry.semaphore("work", 3).tryAcquire()).isInstanceOf(IllegalStateException.class);

        Future<Boolean> waiting = threads.submit(() -> other.tryAcquire(Duration.ofSeconds(30)));
        assertThat(one.release()).isTrue();
        assertThat(waiting.get()).isTrue();
        assertThat(other.heldPermits()).isEqualTo(2);
    }
}
