package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Transaction-scoped locks live and die with the caller's transaction, which a failed wait never aborts. */
class TransactionLockTest extends LockTestSupport {

    @Test
    void lockIsHeldUntilTheTransactionCommits() throws Exception {
        LockRegistry registry = registry();
        TransactionLock lock = registry.transactionLock("account:42", LockMode.EXCLUSIVE);
        Connection transaction = transaction();

        assertThat(lock.tryAcquire(transaction)).isTrue();
        assertThat(registry.lock("account:42").tryAcquire()).isFalse();

        transaction.commit();
        assertThat(grantedOnServer(lock.key())).isZero();
    }

    @Test
    void waitedLockIsHeldUntilTheTransactionRollsBack() throws Exception {
        LockRegistry registry = registry();
        TransactionLock lock = registry.transactionLock("account:42", LockMode.EXCLUSIVE);
        Connection holder = transaction();
        lock.tryAcquire(holder);
        Connection waiter = transaction();

        CompletableFuture<Boolean> waiting = CompletableFuture.supplyAsync(() -> wait(lock, waiter, Duration.ofSeconds(60)));
        awaitServerWaiter(lock.key());
        holder.rollback();

        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(grantedOnServer(lock.key())).isEqualTo(1);
        waiter.rollback();
        assertThat(grantedOnServer(lock.key())).isZero();
    }

    @Test
    void timedOutWaitLeavesTheTransactionUsableAndItsLockTimeoutUnchanged() throws Exception {
        LockRegistry registry = registry();
        TransactionLock lock = registry.transactionLock("account:42", LockMode.EXCLUSIVE);
        lock.tryAcquire(transaction());
        Connection waiter = transaction();
        execute(waiter, "SET LOCAL lock_timeout = '7s'");

        long started = System.nanoTime();
        assertThat(lock.tryAcquire(waiter, Duration.ofMillis(300))).isFalse();

        assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        assertThat(query(waiter, "SHOW lock_timeout")).isEqualTo("7s");
        assertThat(query(waiter, "SELECT 'still usable'")).isEqualTo("still usable");
        waiter.commit();
    }

    @Test
    void deadlockIsReportedWithReasonDeadlockAndTheVictimsTransactionSurvives() throws Exception {
        LockRegistry registry = registry();
        TransactionLock a = registry.transactionLock("a", LockMode.EXCLUSIVE);
        TransactionLock b = registry.transactionLock("b", LockMode.EXCLUSIVE);
        Connection first = transaction();
        Connection second = transaction();
        assertThat(a.tryAcquire(first)).isTrue();
        assertThat(b.tryAcquire(second)).isTrue();

        CompletableFuture<Boolean> firstWaits = CompletableFuture.supplyAsync(() -> wait(b, first, Duration.ofSeconds(60)));
        awaitServerWaiter(b.key());
        CompletableFuture<Boolean> secondWaits = CompletableFuture.supplyAsync(() -> wait(a, second, Duration.ofSeconds(60)));
        await().atMost(Duration.ofSeconds(30)).until(() -> firstWaits.isDone() || secondWaits.isDone());

        boolean firstIsVictim = firstWaits.isCompletedExceptionally();
        CompletableFuture<Boolean> victim = firstIsVictim ? firstWaits : secondWaits;
        Connection victimTransaction = firstIsVictim ? first : second;
        assertThatThrownBy(victim::join).isInstanceOf(CompletionException.class)
                .cause().isInstanceOfSatisfying(AcquireFailureException.class,
                        e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.DEADLOCK))
                .hasMessageContaining("deadlock").hasMessageContaining("40P01");
        assertThat(query(victimTransaction, "SELECT 'still usable'")).isEqualTo("still usable");

        victimTransaction.rollback();
        assertThat((firstIsVictim ? secondWaits : firstWaits).get(30, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void interruptedWaitHoldsNothingAndLeavesTheTransactionUsable() throws Exception {
        LockRegistry registry = registry();
        TransactionLock lock = registry.transactionLock("account:42", LockMode.EXCLUSIVE);
        Connection holder = transaction();
        lock.tryAcquire(holder);
        Connection waiter = transaction();
        AtomicReference<Object> outcome = new AtomicReference<>();
        Thread thread = new Thread(() -> {
            try {
                outcome.set(lock.tryAcquire(waiter, Duration.ofSeconds(60)));
            } catch (InterruptedException e) {
                outcome.set(e);
            }
        });
        thread.start();
        awaitServerWaiter(lock.key());

        thread.interrupt();
        thread.join(TimeUnit.SECONDS.toMillis(30));

        assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
        holder.rollback();
        assertThat(query(waiter, "SELECT 'still usable'")).isEqualTo("still usable");
        assertThat(grantedOnServer(lock.key())).isZero();
        waiter.commit();
    }

    @Test
    void sharedTransactionLocksCoexistAndExcludeExclusive() throws Exception {
        LockRegistry registry = registry();
        TransactionLock shared = registry.transactionLock("catalog", LockMode.SHARED);
        TransactionLock exclusive = registry.transactionLock("catalog", LockMode.EXCLUSIVE);
        Connection reader1 = transaction();
        Connection reader2 = transaction();

        assertThat(shared.tryAcquire(reader1)).isTrue();
        assertThat(shared.tryAcquire(reader2, Duration.ofSeconds(5))).isTrue();
        assertThat(exclusive.tryAcquire(transaction())).isFalse();
        reader1.commit();
        reader2.commit();
    }

    @Test
    void autocommitConnectionIsRejectedWithAMessageSayingWhy() throws Exception {
        LockRegistry registry = registry();
        TransactionLock lock = registry.transactionLock("x", LockMode.EXCLUSIVE);

        assertThatThrownBy(() -> lock.tryAcquire(outsider()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'x'").hasMessageContaining("autocommit").hasMessageContaining("setAutoCommit(false)");
    }

    @Test
    void holdThatTimesOutThrowsTimedOutAndLeavesTheTransactionUsable() throws Exception {
        LockRegistry registry = registry();
        TransactionLock lock = registry.transactionLock("account:42", LockMode.EXCLUSIVE);
        assertThat(lock.tryAcquire(transaction())).isTrue();
        Connection waiter = transaction();

        long started = System.nanoTime();
        assertThatThrownBy(() -> lock.hold(waiter, Duration.ofMillis(300)))
                .isInstanceOfSatisfying(AcquireFailureException.class, e -> {
                    assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.TIMED_OUT);
                    assertThat(e.lockName()).isEqualTo("account:42");
                    assertThat(e.mode()).isEqualTo(LockMode.EXCLUSIVE);
                })
                .hasMessageContaining("'account:42'").hasMessageContaining("the wait timed out")
                .hasMessageContaining("waited PT0.3S");

        assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        assertThat(query(waiter, "SELECT 'still usable'")).isEqualTo("still usable");
        waiter.commit();
    }

    @Test
    void interruptedHoldThrowsInterruptedSetsTheInterruptStatusAgainAndLeavesTheTransactionUsable() throws Exception {
        LockRegistry registry = registry();
        TransactionLock lock = registry.transactionLock("account:42", LockMode.EXCLUSIVE);
        Connection holder = transaction();
        lock.tryAcquire(holder);
        Connection waiter = transaction();
        AtomicReference<Object> outcome = new AtomicReference<>();
        AtomicBoolean interruptedAfter = new AtomicBoolean();
        Thread thread = new Thread(() -> {
            try {
                lock.hold(waiter, Duration.ofSeconds(60));
                outcome.set("acquired");
            } catch (AcquireFailureException e) {
                outcome.set(e);
                interruptedAfter.set(Thread.currentThread().isInterrupted());
            }
        });
        thread.start();
        awaitServerWaiter(lock.key());

        thread.interrupt();
        thread.join(TimeUnit.SECONDS.toMillis(30));

        assertThat(outcome.get()).isInstanceOfSatisfying(AcquireFailureException.class,
                e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.INTERRUPTED));
        assertThat(interruptedAfter).as("interrupt status after the failure").isTrue();
        holder.rollback();
        assertThat(query(waiter, "SELECT 'still usable'")).isEqualTo("still usable");
        assertThat(grantedOnServer(lock.key())).isZero();
        waiter.commit();
    }

    private Connection transaction() throws SQLException {
        Connection connection = outsider();
        connection.setAutoCommit(false);
        return connection;
    }

    private static boolean wait(TransactionLock lock, Connection connection, Duration timeout) {
        try {
            return lock.tryAcquire(connection, timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void execute(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    private static String query(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(sql)) {
            rows.next();
            return rows.getString(1);
        }
    }
}
