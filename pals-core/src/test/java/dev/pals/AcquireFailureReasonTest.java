package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * When the reasons INTERRUPTED and CANCELLED arise: an interrupt of the thread that acquires, and
 * an interrupt of the registry's thread that runs an asynchronous acquisition.
 */
class AcquireFailureReasonTest extends LockTestSupport {

    @Test
    void holdInterruptedWhileWaitingInTheServerFailsWithReasonInterruptedAndSetsTheInterruptStatusAgain()
            throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");
        Connection holder = outsider();
        lockFrom(holder, lock.key());
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean interruptedAfter = new AtomicBoolean();
        Thread waiter = new Thread(() -> {
            try (HeldLock held = lock.hold(Duration.ofSeconds(60))) {
                failure.set(new AssertionError("acquired"));
            } catch (RuntimeException e) {
                failure.set(e);
                interruptedAfter.set(Thread.currentThread().isInterrupted());
            }
        });
        waiter.start();
        awaitServerWaiter(lock.key());

        waiter.interrupt();
        waiter.join(TimeUnit.SECONDS.toMillis(30));

        assertThat(waiter.isAlive()).isFalse();
        assertThat(failure.get()).isInstanceOfSatisfying(AcquireFailureException.class, e -> {
            assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.INTERRUPTED);
            assertThat(e.lockName()).isEqualTo("x");
            assertThat(e).hasCauseInstanceOf(InterruptedException.class);
        }).hasMessageContaining("'x'").hasMessageContaining("the waiting thread was interrupted");
        assertThat(interruptedAfter).as("interrupt status after the failure").isTrue();
        assertNothingHeldOnceTheServerWaitEnded(lock, holder);
    }

    @Test
    void tryWithAnInterruptPendingFailsWithReasonInterruptedAndSetsTheInterruptStatusAgain() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");

        Thread.currentThread().interrupt();
        boolean interruptedAfter;
        try {
            assertThatThrownBy(lock::tryAcquire).isInstanceOfSatisfying(AcquireFailureException.class,
                    e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.INTERRUPTED))
                    .hasMessageContaining("'x'").hasMessageContaining("interrupted");
        } finally {
            interruptedAfter = Thread.interrupted();
        }

        assertThat(interruptedAfter).as("interrupt status after the failure").isTrue();
        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"PostgreSQL", "in memory"})
    void anInterruptPendingFailsEveryTryTheSameWayEvenWhereTheJvmAloneCouldAnswer(String engine) {
        LockRegistry registry = registry(engine.equals("in memory") ? LockRegistry.inMemory()
                : LockRegistry.builder(dataSource).namespace(namespace));
        AdvisoryLock held = registry.lock("x");
        AdvisoryLock reader = registry.lock("y", LockOptions.shared());
        AdvisoryLock joiner = registry.lock("y", LockOptions.shared());
        assertThat(held.tryAcquire()).isTrue();
        assertThat(reader.tryAcquire()).isTrue();

        for (AdvisoryLock lock : List.of(held, joiner)) {
            Thread.currentThread().interrupt();
            try {
                assertThatThrownBy(lock::tryAcquire).as("%s with an interrupt pending", lock)
                        .isInstanceOfSatisfying(AcquireFailureException.class,
                                e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.INTERRUPTED));
            } finally {
                assertThat(Thread.interrupted()).as("interrupt status after the failure").isTrue();
            }
        }

        assertThat(held.holdCount()).as("a re-entry refused by the interrupt counts nothing").isOne();
        assertThat(joiner.isHeld()).isFalse();
        assertThat(held.release()).isTrue();
        assertThat(reader.release()).isTrue();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"PostgreSQL", "in memory"})
    void aTimedAcquisitionWithAnInterruptPendingThrowsInterruptedExceptionWhateverItsTimeout(String engine) {
        LockRegistry registry = registry(engine.equals("in memory") ? LockRegistry.inMemory()
                : LockRegistry.builder(dataSource).namespace(namespace));
        AdvisoryLock lock = registry.lock("timed");

        for (Duration timeout : List.of(Duration.ZERO, Duration.ofMillis(1), Duration.ofSeconds(30))) {
            Thread.currentThread().interrupt();
            try {
                assertThatThrownBy(() -> lock.tryAcquire(timeout)).as("tryAcquire(%s) with an interrupt pending", timeout)
                        .isInstanceOf(InterruptedException.class);
            } finally {
                Thread.interrupted();
            }
        }
        assertThat(lock.isHeld()).isFalse();
    }

    @Test
    void aTransactionLockWithAnInterruptPendingAnswersAsAHandleDoes() throws Exception {
        TransactionLock lock = registry().transactionLock("account", LockMode.EXCLUSIVE);
        try (Connection connection = DB.connect()) {
            connection.setAutoCommit(false);
            for (Duration timeout : List.of(Duration.ZERO, Duration.ofSeconds(30))) {
                Thread.currentThread().interrupt();
                try {
                    assertThatThrownBy(() -> lock.tryAcquire(connection, timeout))
                            .as("tryAcquire(connection, %s) with an interrupt pending", timeout)
                            .isInstanceOf(InterruptedException.class);
                } finally {
                    Thread.interrupted();
                }
            }
            Thread.currentThread().interrupt();
            try {
                assertThatThrownBy(() -> lock.tryAcquire(connection)).isInstanceOfSatisfying(
                        AcquireFailureException.class,
                        e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.INTERRUPTED));
            } finally {
                assertThat(Thread.interrupted()).as("interrupt status after the failure").isTrue();
            }
            assertThat(grantedOnServer(lock.key())).as("nothing taken in the transaction").isZero();
            connection.rollback();
        }
    }

    @Test
    void asyncWaitWhoseRegistryThreadIsInterruptedFailsWithReasonCancelledAndHoldsNothing() throws Exception {
        AtomicReference<Thread> acquiring = new AtomicReference<>();
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .observer(new LockObserver() {
                    @Override
                    public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
                        acquiring.set(Thread.currentThread());
                        return Acquisition.NONE;
                    }
                }));
        AdvisoryLock lock = registry.lock("x");
        Connection holder = outsider();
        lockFrom(holder, lock.key());
        CompletableFuture<Boolean> pending = lock.acquireAsync(Duration.ofSeconds(60));
        awaitServerWaiter(lock.key());

        // not a cancel of the future, which would leave it cancelled: something else interrupts the registry's thread
        acquiring.get().interrupt();

        assertThatThrownBy(() -> pending.get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOfSatisfying(AcquireFailureException.class, e -> {
                    assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.CANCELLED);
                    assertThat(e.lockName()).isEqualTo("x");
                }).hasMessageContaining("'x'").hasMessageContaining("the acquisition was cancelled");
        assertNothingHeldOnceTheServerWaitEnded(lock, holder);
    }

    /** Once the cancelled wait left the server's queue, freeing the lock grants it to nobody. */
    private static void assertNothingHeldOnceTheServerWaitEnded(AdvisoryLock lock, Connection holder)
            throws Exception {
        await().atMost(Duration.ofSeconds(30)).until(() -> waitingOnServer(lock.key()) == 0);
        unlockAll(holder);
        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
    }
}
