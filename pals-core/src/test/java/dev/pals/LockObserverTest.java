package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class LockObserverTest extends LockTestSupport {

    /** Writes each event as a line: "start name group mayWait", "end name OUTCOME", "held name", "released name", "lost name". */
    static final class Recorder implements LockObserver {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
            events.add("start " + lock.name() + " " + lock.group() + " " + lock.scope() + (mayWait ? " waits" : " tries"));
            return (outcome, failure) -> events.add("end " + lock.name() + " " + outcome
                    + (failure == null ? "" : " " + failure.getClass().getSimpleName()));
        }

        @Override
        public Section sectionStarted(LockInfo lock) {
            events.add("held " + lock.name());
            return (@Nullable LockLostException lost) -> events.add((lost == null ? "released " : "lost ") + lock.name());
        }
    }

    private final Recorder recorder = new Recorder();

    private LockRegistry observed() {
        return registry(LockRegistry.builder(dataSource).namespace(namespace).observer(recorder));
    }

    @Test
    void everyAcquisitionIsToldItsOutcomeAndTheSectionSpansFirstHoldToLastRelease() throws Exception {
        LockRegistry registry = observed();
        AdvisoryLock first = registry.lock("job", LockOptions.exclusive().withGroup("jobs"));
        AdvisoryLock second = registry.lock("job", LockOptions.exclusive().withGroup("jobs"));

        assertThat(first.tryAcquire()).isTrue();
        assertThat(first.tryAcquire(Duration.ofSeconds(1))).isTrue();
        assertThat(second.tryAcquire()).isFalse();
        assertThat(second.tryAcquire(Duration.ofMillis(50))).isFalse();
        first.release();
        first.release();

        assertThat(recorder.events).containsExactly(
                "start job jobs SESSION tries", "held job", "end job ACQUIRED",
                "start job jobs SESSION waits", "end job ACQUIRED",
                "start job jobs SESSION tries", "end job CONTENDED",
                "start job jobs SESSION waits", "end job TIMED_OUT",
                "released job");
    }

    @Test
    void aLockWithoutAGroupReportsAsUngrouped() {
        LockRegistry registry = observed();
        assertThat(registry.lock("report").group()).isEqualTo(LockInfo.UNGROUPED);
        assertThat(registry.lock("report").tryAcquire()).isTrue();
        assertThat(recorder.events).first().isEqualTo("start report ungrouped SESSION tries");
    }

    @Test
    void anInterruptedWaitIsAFailedAcquisition() throws Exception {
        LockRegistry registry = observed();
        AdvisoryLock holder = registry.lock("busy");
        assertThat(holder.tryAcquire()).isTrue();
        Thread.currentThread().interrupt();
        assertThatThrownBy(() -> registry.lock("busy").tryAcquire(Duration.ofSeconds(10)))
                .isInstanceOf(InterruptedException.class);
        assertThat(recorder.events).contains("end busy FAILED InterruptedException");
        holder.release();
    }

    @Test
    void sharedHoldersHaveASectionEach() {
        LockRegistry registry = observed();
        AdvisoryLock a = registry.lock("catalog", LockOptions.shared());
        AdvisoryLock b = registry.lock("catalog", LockOptions.shared());
        assertThat(a.tryAcquire()).isTrue();
        assertThat(b.tryAcquire()).isTrue();
        assertThat(registry.heldLocks()).isEqualTo(2);
        a.release();
        assertThat(registry.heldLocks()).isEqualTo(1);
        b.release();
        assertThat(registry.heldLocks()).isZero();
        assertThat(recorder.events).filteredOn(event -> !event.startsWith("start") && !event.startsWith("end"))
                .containsExactly("held catalog", "held catalog", "released catalog", "released catalog");
    }

    @Test
    void aLostLockEndsItsSectionAsLost() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).observer(recorder)
                .lossCheckInterval(Duration.ofMillis(100)));
        AdvisoryLock lock = registry.lock("fragile");
        assertThat(lock.tryAcquire()).isTrue();
        DB.terminateSessions(dataSource.getPoolName());
        await().atMost(Duration.ofSeconds(10)).until(() -> recorder.events.contains("lost fragile"));
        assertThat(registry.heldLocks()).isZero();
        assertThatThrownBy(lock::release).isInstanceOf(LockLostException.class);
    }

    @Test
    void closingTheRegistryEndsTheSectionsItHeld() {
        LockRegistry registry = observed();
        assertThat(registry.lock("a").tryAcquire()).isTrue();
        registry.close();
        assertThat(recorder.events).endsWith("released a");
    }

    @Test
    void anObserverThatThrowsDoesNotDisturbLocking() {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .observer(new LockObserver() {
                    @Override
                    public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
                        throw new IllegalStateException("observer bug");
                    }

                    @Override
                    public Section sectionStarted(LockInfo lock) {
                        if (lock.name().equals("missing-class")) {
                            throw new NoClassDefFoundError("an optional tracing class");
                        }
                        return lost -> {
                            throw new IllegalStateException("observer bug");
                        };
                    }
                }));
        AdvisoryLock lock = registry.lock("sturdy");
        assertThat(lock.tryAcquire()).isTrue();
        assertThat(lock.release()).isTrue();
        AdvisoryLock linkage = registry.lock("missing-class");
        assertThat(linkage.tryAcquire()).isTrue();
        assertThat(linkage.release()).isTrue();
        assertThat(registry.heldLocks()).isZero();
    }

    @Test
    void anObserverRunsOutsideTheRegistrysLockForTheKey() throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        AtomicReference<AdvisoryLock> other = new AtomicReference<>();
        // an observer that asks about the same key from another thread: under the key's lock, that would hang
        LockObserver asking = new LockObserver() {
            @Override
            public Section sectionStarted(LockInfo lock) {
                AdvisoryLock second = other.get();
                if (second != null) {
                    CompletableFuture<Boolean> answer = CompletableFuture.supplyAsync(second::tryAcquire);
                    try {
                        seen.add("other handle got " + answer.get(2, TimeUnit.SECONDS));
                    } catch (Exception e) {
                        seen.add("other handle blocked: " + e);
                    }
                }
                return lost -> seen.add("ended");
            }
        };
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).observer(asking));
        AdvisoryLock first = registry.lock("asked");
        other.set(registry.lock("asked"));

        assertThat(first.tryAcquire()).isTrue();
        assertThat(first.release()).isTrue();

        assertThat(seen).containsExactly("other handle got false", "ended");
    }

    @Test
    void transactionLocksAreObservedInTheTransactionScopeAndTrackedHoldsShowInActivity() throws Exception {
        List<Runnable> ends = new CopyOnWriteArrayList<>();
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).observer(recorder)
                .transactionCompletion((connection, ended) -> ends.add(ended)));
        TransactionLock lock = registry.transactionLock("account:1", LockOptions.exclusive().withGroup("account"));
        assertThat(lock.group()).isEqualTo("account");
        try (Connection mine = DB.connect(); Connection other = DB.connect()) {
            mine.setAutoCommit(false);
            other.setAutoCommit(false);
            assertThat(lock.tryAcquire(mine)).isTrue();
            assertThat(ends).hasSize(1);
            assertThat(registry.heldLocks()).isOne();
            assertThat(registry.activity()).singleElement().satisfies(activity -> {
                assertThat(activity.lock().scope()).isEqualTo(LockInfo.Scope.TRANSACTION);
                assertThat(activity.backendPid()).isEqualTo(pidOf(mine));
            });
            assertThat(lock.tryAcquire(other, Duration.ofMillis(50))).isFalse();
            assertThat(ends).as("a failed acquisition is not tracked").hasSize(1);
            mine.rollback();
            ends.get(0).run();
            ends.get(0).run();
            other.rollback();
        }
        assertThat(registry.heldLocks()).isZero();
        assertThat(registry.activity()).isEmpty();
        assertThat(recorder.events).containsExactly(
                "start account:1 account TRANSACTION tries", "end account:1 ACQUIRED", "held account:1",
                "start account:1 account TRANSACTION waits", "end account:1 TIMED_OUT", "released account:1");
    }

    @Test
    void transactionHoldsAreNotTrackedWhenTheCompletionCannotSeeTheirEnd() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).observer(recorder)
                .transactionCompletion((connection, ended) -> false));
        TransactionLock lock = registry.transactionLock("account:2", LockMode.EXCLUSIVE);
        try (Connection mine = DB.connect()) {
            mine.setAutoCommit(false);
            assertThat(lock.tryAcquire(mine, Duration.ofSeconds(1))).isTrue();
            assertThat(registry.heldLocks()).isZero();
            assertThat(registry.activity()).isEmpty();
            mine.rollback();
        }
        assertThat(recorder.events).containsExactly("start account:2 ungrouped TRANSACTION waits",
                "end account:2 ACQUIRED", "held account:2", "released account:2");
    }

    @Test
    void aCompletionThatFailsLeavesNoTrackedHoldAndItsFailureReachesTheCaller() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .transactionCompletion((connection, ended) -> {
                    throw new IllegalStateException("no synchronization");
                }));
        TransactionLock lock = registry.transactionLock("account:3", LockMode.EXCLUSIVE);
        try (Connection mine = DB.connect()) {
            mine.setAutoCommit(false);
            assertThatThrownBy(() -> lock.tryAcquire(mine)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("no synchronization");
            assertThat(registry.heldLocks()).isZero();
            assertThat(registry.activity()).isEmpty();
            mine.rollback();
        }
    }

    private static int pidOf(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            return (int) single(statement, "SELECT pg_backend_pid()");
        }
    }

    @Test
    void activityShowsHoldsAndWaitsWithTheirBackends() throws Exception {
        LockRegistry registry = observed();
        AdvisoryLock held = registry.lock("popular", LockOptions.exclusive().withGroup("hot"));
        assertThat(held.tryAcquire()).isTrue();
        assertThat(held.tryAcquire()).isTrue();
        Connection outsider = outsider();
        LockKey contested = registry.lock("contested").key();
        lockFrom(outsider, contested);
        AdvisoryLock waiter = registry.lock("contested");
        CompletableFuture<Boolean> waiting = waiter.acquireAsync(Duration.ofSeconds(30));
        awaitServerWaiter(contested);

        List<LockActivity> activity = registry.activity();
        assertThat(registry.waitingLocks()).isEqualTo(1);
        assertThat(activity).hasSize(2);
        LockActivity hold = activity.stream().filter(a -> a.state() == LockActivity.State.HELD).findFirst().orElseThrow();
        assertThat(hold.lock().name()).isEqualTo("popular");
        assertThat(hold.lock().group()).isEqualTo("hot");
        assertThat(hold.holdCount()).isEqualTo(2);
        assertThat(hold.owner()).isEqualTo(Thread.currentThread().getName());
        assertThat(hold.backendPid()).isEqualTo((int) observe("SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
                + "AND granted AND classid = ? AND objid = ? AND objsubid = ?", held.key().classId(), held.key().objId(),
                held.key().objSubId()));
        LockActivity wait = activity.stream().filter(a -> a.state() == LockActivity.State.WAITING).findFirst()
                .orElseThrow();
        assertThat(wait.lock().name()).isEqualTo("contested");
        assertThat(wait.owner()).startsWith("pals-lock-async-");
        assertThat(wait.backendPid()).isEqualTo((int) observe("SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
                + "AND NOT granted AND classid = ? AND objid = ? AND objsubid = ?", contested.classId(),
                contested.objId(), contested.objSubId()));

        unlockAll(outsider);
        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(registry.waitingLocks()).isZero();
        held.release();
        held.release();
        waiter.release();
    }
}
