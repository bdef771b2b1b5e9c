package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.pals.stub.Gate;
import dev.pals.stub.Gate.Kind;
import dev.pals.stub.StubServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.UnaryOperator;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The races between handles of one registry on one key, each forced into one exact interleaving.
 * A real server cannot hold a statement at a chosen point or fail one on cue, so these tests run
 * the registry against {@link StubServer}, which emulates the SQL the registry sends with
 * PostgreSQL's advisory lock semantics and lets a test hold ({@link Gate}) or fail a chosen
 * statement: no timing luck, and each test takes milliseconds. They add to the real-server suite,
 * never replace it: that suite ({@code HandleSemanticsTest}, {@code FailureTest},
 * {@code LifecycleTest}, {@code MultiplexingTest}, ...) covers what the stub takes on trust, such as
 * PgJDBC's behaviour, the server's own lock semantics, killed backends, timeouts and networks.
 */
class KeyStateRaceTest {

    private static final Duration ANSWER = Duration.ofSeconds(5);

    private final StubServer server = new StubServer();
    private final List<String> told = new CopyOnWriteArrayList<>();
    private final List<LockRegistry> registries = new ArrayList<>();

    @AfterEach
    void closeRegistries() {
        registries.forEach(LockRegistry::close);
        assertThat(server.heldKeys()).as("advisory locks left on the stub server after its registries closed")
                .isEmpty();
        assertThat(server.refusals()).as("statements and JDBC calls the stub does not emulate").isEmpty();
    }

    @Test
    void aTryWhileAnotherHandlesTryIsInFlightWaitsForItAndAnswersHeld() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock first = registry.lock("job");
        AdvisoryLock second = registry.lock("job");
        Gate inFlight = server.gate(Kind.TRY, first.key());
        Racer<Boolean> firstTry = new Racer<>("first", first::tryAcquire);
        inFlight.awaitArrival();

        Racer<Boolean> secondTry = new Racer<>("second", second::tryAcquire);
        secondTry.awaitParked("the in-flight try of the other handle");
        inFlight.open();

        assertThat(firstTry.get()).isTrue();
        assertThat(secondTry.get()).as("held by the first handle").isFalse();
        assertThat(server.statements(Kind.TRY, first.key())).as("the second answered in the JVM").isOne();
        first.release();
    }

    @Test
    void aTryWhileAnotherHandlesTryIsInFlightTakesTheLockWhenThatTryFails() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock first = registry.lock("job");
        AdvisoryLock second = registry.lock("job");
        Gate inFlight = server.gate(Kind.TRY, first.key());
        Racer<Boolean> firstTry = new Racer<>("first", first::tryAcquire);
        inFlight.awaitArrival();

        Racer<Boolean> secondTry = new Racer<>("second", second::tryAcquire);
        secondTry.awaitParked("the in-flight try of the other handle");
        inFlight.fail("53200"); // out of shared memory: the server refused, the session lives on

        assertThatThrownBy(firstTry::get).hasCauseInstanceOf(LockCapacityException.class);
        assertThat(secondTry.get()).as("the key is free once the first try failed").isTrue();
        assertThat(second.isHeld()).isTrue();
        assertThat(first.isHeld()).isFalse();
        second.release();
    }

    @Test
    void aTryWhileAnotherHandlesReleaseIsInFlightWaitsForItAndTakesTheLock() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock first = registry.lock("job");
        AdvisoryLock second = registry.lock("job");
        assertThat(first.tryAcquire()).isTrue();
        Gate unlock = server.gate(Kind.UNLOCK, first.key());
        Racer<Boolean> release = new Racer<>("release", first::release);
        unlock.awaitArrival();

        Racer<Boolean> secondTry = new Racer<>("second", second::tryAcquire);
        secondTry.awaitParked("the in-flight release of the other handle");
        unlock.open();

        assertThat(release.get()).isTrue();
        assertThat(secondTry.get()).as("free once the release went through").isTrue();
        assertThat(server.holders(first.key())).hasSize(1);
        second.release();
    }

    @Test
    void aReleaseWhoseUnlockFailsAsCloseRetiresItsSessionIsNoLoss() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("job");
        assertThat(lock.tryAcquire()).isTrue();
        Gate unlock = server.gate(Kind.UNLOCK, lock.key());
        Racer<Boolean> release = new Racer<>("release", lock::release);
        unlock.awaitArrival();

        Racer<Boolean> close = new Racer<>("close", () -> {
            registry.close();
            return true;
        });
        close.awaitParked("the session's statement in flight, before retiring it");
        // what close() would do after its patience: abort the connection under the unlock
        unlock.fail(StubServer.CONNECTION_FAILURE);

        assertThat(release.get()).as("the close released it, so the release succeeded").isTrue();
        assertThat(close.get()).isTrue();
        assertThat(told).as("losses told").isEmpty();
    }

    @Test
    void anAcquisitionGrantedAsTheRegistryClosesHoldsNothing() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("job");
        Gate inFlight = server.gate(Kind.TRY, lock.key());
        Racer<Boolean> acquire = new Racer<>("acquire", lock::tryAcquire);
        inFlight.awaitArrival();

        Racer<Boolean> close = new Racer<>("close", () -> {
            registry.close();
            return true;
        });
        close.awaitParked("the session's statement in flight, before retiring it");
        inFlight.open();

        assertThatThrownBy(acquire::get).hasCauseInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed while lock 'job' was being acquired");
        assertThat(close.get()).isTrue();
        assertThat(lock.isHeld()).isFalse();
        assertThat(server.holders(lock.key())).as("the close unlocked the grant on the server").isEmpty();
    }

    @Test
    void anUnlockOnABrokenConnectionIsReportedLostOnceToReleaseAndOnceToTheListener() {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("job");
        assertThat(lock.tryAcquire()).isTrue();
        server.failNext(Kind.UNLOCK, lock.key(), StubServer.CONNECTION_FAILURE);

        assertThatThrownBy(lock::release).isInstanceOf(LockLostException.class)
                .hasMessageContaining("its connection failed");
        assertThat(told).as("listener calls").containsExactly("job");
        assertThat(lock.release()).as("reported once").isFalse();
        assertThat(lock.tryAcquire()).as("the handle may acquire again, on a new session").isTrue();
        assertThat(told).hasSize(1);
        lock.release();
    }

    @Test
    void aFailedLossCheckTellsBothHoldersOfASharedKey() {
        LockRegistry registry = registry(builder -> builder.lossCheckInterval(Duration.ofMillis(20)));
        AdvisoryLock reader = registry.lock("report", LockOptions.shared());
        AdvisoryLock otherReader = registry.lock("report", LockOptions.shared());
        assertThat(reader.tryAcquire()).isTrue();
        assertThat(otherReader.tryAcquire()).isTrue();
        assertThat(server.holders(reader.key())).as("both on one session").hasSize(1);

        server.failNext(Kind.PING, StubServer.CONNECTION_FAILURE);

        settled().until(() -> told.size() >= 2);
        assertThat(told).containsExactly("report", "report");
        assertThat(reader.isHeld()).isFalse();
        assertThat(otherReader.isHeld()).isFalse();
        assertThatThrownBy(reader::release).isInstanceOf(LockLostException.class);
        assertThatThrownBy(otherReader::release).isInstanceOf(LockLostException.class);
        assertThat(reader.release()).isFalse();
    }

    @Test
    void aTryWhoseSessionBreaksLosesTheSessionsOtherLocksAndSucceedsOnANewSession() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock held = registry.lock("held");
        AdvisoryLock wanted = registry.lock("wanted");
        assertThat(held.tryAcquire()).isTrue();
        int lostSession = server.holders(held.key()).iterator().next();
        Gate inFlight = server.gate(Kind.TRY, wanted.key());
        Racer<Boolean> acquire = new Racer<>("acquire", wanted::tryAcquire);
        inFlight.awaitArrival();

        inFlight.fail(StubServer.CONNECTION_FAILURE);

        assertThat(acquire.get()).as("retried once, on another session").isTrue();
        assertThat(server.holders(wanted.key())).hasSize(1).doesNotContain(lostSession);
        settled().until(() -> !told.isEmpty());
        assertThat(told).containsExactly("held");
        assertThat(held.isHeld()).isFalse();
        assertThatThrownBy(held::release).isInstanceOf(LockLostException.class);
        wanted.release();
    }

    @Test
    void aSharedJoinWaitsBehindAnExclusiveWaiterInTheServer() throws Exception {
        LockRegistry registry = registry();
        LockRegistry otherProcess = registry();
        AdvisoryLock reader = registry.lock("report", LockOptions.shared());
        AdvisoryLock otherReader = registry.lock("report", LockOptions.shared());
        AdvisoryLock writer = otherProcess.lock("report");
        assertThat(reader.tryAcquire()).isTrue();
        Racer<Boolean> write = new Racer<>("writer", () -> writer.tryAcquire(ANSWER));
        settled().until(() -> server.waiting(writer.key()) == 1);

        assertThat(otherReader.tryAcquire()).as("a join would keep the waiting writer out").isFalse();
        reader.release();

        assertThat(write.get()).as("granted once the reader let go").isTrue();
        writer.release();
    }

    @Test
    void reEntriesCountPerHandleWhicheverThreadAcquiresOrReleases() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("job");
        AdvisoryLock other = registry.lock("job");
        assertThat(lock.tryAcquire()).isTrue();
        assertThat(lock.tryAcquire()).isTrue();

        assertThat(new Racer<>("releaser", lock::release).get()).isTrue();
        assertThat(lock.holdCount()).isOne();
        assertThat(server.holders(lock.key())).as("still held on the server").hasSize(1);
        assertThat(other.tryAcquire()).as("another handle on the holder's own thread").isFalse();
        assertThat(new Racer<>("re-entrant", lock::tryAcquire).get()).as("the holder, on another thread").isTrue();
        assertThat(new Racer<>("releaser", lock::release).get()).isTrue();
        assertThat(server.statements(Kind.UNLOCK, lock.key())).isZero();
        assertThat(new Racer<>("releaser", lock::release).get()).isTrue();

        assertThat(server.holders(lock.key())).isEmpty();
        assertThat(server.statements(Kind.TRY, lock.key())).as("re-entries answered in the JVM").isOne();
        assertThat(server.statements(Kind.UNLOCK, lock.key())).isOne();
    }

    /** Awaitility looking every few milliseconds, as everything here answers within one. */
    private static ConditionFactory settled() {
        return await().atMost(ANSWER).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(2));
    }

    private LockRegistry registry() {
        return registry(UnaryOperator.identity());
    }

    private LockRegistry registry(UnaryOperator<LockRegistry.Builder> settings) {
        LockRegistry registry = settings.apply(LockRegistry.builder(server.dataSource())
                .lossListener((lock, lost) -> told.add(lock.name()))).build();
        registries.add(registry);
        return registry;
    }

    /** A call on a thread of its own, so that the test can see it wait. */
    private static final class Racer<T> {

        private final CompletableFuture<T> result = new CompletableFuture<>();
        private final Thread thread;

        Racer(String name, Callable<T> call) {
            thread = new Thread(() -> {
                try {
                    result.complete(call.call());
                } catch (Exception | Error e) {
                    result.completeExceptionally(e);
                }
            }, "racer-" + name);
            thread.setDaemon(true);
            thread.start();
        }

        /** Waits until the call is parked, and fails if it answered instead. */
        void awaitParked(String forWhat) {
            settled().until(() -> result.isDone() || parked());
            assertThat(result).as(thread.getName() + " waits for " + forWhat + " instead of answering").isNotDone();
        }

        private boolean parked() {
            Thread.State state = thread.getState();
            return state == Thread.State.WAITING || state == Thread.State.TIMED_WAITING;
        }

        T get() throws InterruptedException, ExecutionException, TimeoutException {
            return result.get(ANSWER.toMillis(), TimeUnit.MILLISECONDS);
        }
    }
}
