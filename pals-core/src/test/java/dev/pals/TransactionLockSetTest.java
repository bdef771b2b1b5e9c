package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Transaction-scoped lock sets: every member taken in key order inside the caller's transaction,
 * and on any failure none of them, the transaction still usable.
 */
class TransactionLockSetTest extends LockTestSupport {

    @Test
    void everyMemberIsHeldInKeyOrderUntilTheTransactionCommits() throws Exception {
        LockRegistry registry = registry();
        TransactionLockSet set = registry.transactionLocks(List.of("account:B", "account:A", "account:B"),
                LockOptions.exclusive());
        Connection transaction = transaction();

        assertThat(set.tryAcquire(transaction)).isTrue();

        assertThat(set.keys()).hasSize(2).isSortedAccordingTo((a, b) -> Long.compare(a.value(), b.value()));
        assertThat(set.keys()).allSatisfy(key -> assertThat(grantedOnServer(key)).isEqualTo(1));
        transaction.commit();
        assertThat(set.keys()).allSatisfy(key -> assertThat(grantedOnServer(key)).isZero());
    }

    @Test
    void rollbackFreesEveryMember() throws Exception {
        TransactionLockSet set = registry().transactionLocks(List.of("a", "b", "c"), LockOptions.exclusive());
        Connection transaction = transaction();
        assertThat(set.tryAcquire(transaction, Duration.ofSeconds(5))).isTrue();

        transaction.rollback();

        assertThat(set.keys()).allSatisfy(key -> assertThat(grantedOnServer(key)).isZero());
    }

    @Test
    void contendedLastMemberLeavesTheEarlierOnesFreeAndTheTransactionUsable() throws Exception {
        TransactionLockSet set = registry().transactionLocks(List.of("a", "b", "c"), LockOptions.exclusive());
        LockKey last = set.keys().get(2);
        lockFrom(outsider(), last);
        Connection transaction = transaction();
        execute(transaction, "CREATE TEMP TABLE before_the_set (x int)");

        assertThat(set.tryAcquire(transaction)).isFalse();

        // taken in the server and rolled back with the savepoint, not merely forgotten
        assertThat(grantedOnServer(set.keys().get(0))).isZero();
        assertThat(grantedOnServer(set.keys().get(1))).isZero();
        // the caller's work before the set is kept, and the transaction goes on
        assertThat(query(transaction, "SELECT count(*) FROM before_the_set")).isEqualTo("0");
        transaction.commit();
    }

    @Test
    void oneTimeoutBoundsTheWholeSetAndLeavesTheLockTimeoutUnchanged() throws Exception {
        TransactionLockSet set = registry().transactionLocks(List.of("a", "b"), LockOptions.exclusive());
        // the first member waits for a holder that lets go once it waits; the second is never free
        Connection firstHolder = outsider();
        lockFrom(firstHolder, set.keys().get(0));
        lockFrom(outsider(), set.keys().get(1));
        Connection transaction = transaction();
        execute(transaction, "SET LOCAL lock_timeout = '7s'");
        CompletableFuture<Void> letGo = CompletableFuture.runAsync(() -> {
            awaitServerWaiter(set.keys().get(0));
            unlockAll(firstHolder);
        });

        long started = System.nanoTime();
        assertThat(set.tryAcquire(transaction, Duration.ofMillis(1000))).isFalse();
        Duration took = Duration.ofNanos(System.nanoTime() - started);

        letGo.get(30, TimeUnit.SECONDS);
        assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(1000)).isLessThan(Duration.ofMillis(1000).plus(SLACK));
        assertThat(grantedOnServer(set.keys().get(0))).isZero();
        assertThat(query(transaction, "SHOW lock_timeout")).isEqualTo("7s");
        transaction.commit();
    }

    @Test
    void holdOfAContendedSetThrowsNamingTheMemberAndHoldsNothing() throws Exception {
        TransactionLockSet set = registry().transactionLocks(List.of("a", "b"), LockOptions.exclusive());
        lockFrom(outsider(), set.keys().get(1));
        Connection transaction = transaction();

        assertThatThrownBy(() -> set.hold(transaction, Duration.ofMillis(200)))
                .isInstanceOfSatisfying(AcquireFailureException.class, e -> {
                    assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.TIMED_OUT);
                    assertThat(e.getMessage()).contains("'" + set.names().get(1) + "'", "nothing of the set is held");
                });
        assertThat(grantedOnServer(set.keys().get(0))).isZero();
        assertThat(query(transaction, "SELECT 'still usable'")).isEqualTo("still usable");
        transaction.commit();
    }

    @Test
    void interruptedWaitForALaterMemberHoldsNothingAndLeavesTheTransactionUsable() throws Exception {
        TransactionLockSet set = registry().transactionLocks(List.of("a", "b"), LockOptions.exclusive());
        lockFrom(outsider(), set.keys().get(1));
        Connection transaction = transaction();
        AtomicReference<Thread> waiter = new AtomicReference<>();
        CompletableFuture<Throwable> waiting = CompletableFuture.supplyAsync(() -> {
            waiter.set(Thread.currentThread());
            try {
                set.tryAcquire(transaction, Duration.ofSeconds(60));
                return new AssertionError("acquired");
            } catch (InterruptedException e) {
                return e;
            }
        });
        awaitServerWaiter(set.keys().get(1));
        assertThat(grantedOnServer(set.keys().get(0))).isEqualTo(1);

        waiter.get().interrupt();

        assertThat(waiting.get(30, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
        assertThat(grantedOnServer(set.keys().get(0))).isZero();
        assertThat(query(transaction, "SELECT 'still usable'")).isEqualTo("still usable");
        transaction.commit();
    }

    @Test
    void heldMembersAreTrackedUntilTheTransactionEndsAndAFailedSetTracksNone() throws Exception {
        List<Runnable> ends = new ArrayList<>();
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .transactionCompletion((connection, ended) -> ends.add(ended)));
        TransactionLockSet set = registry.transactionLocks(List.of("a", "b"), LockOptions.exclusive());
        Connection transaction = transaction();

        assertThat(set.tryAcquire(transaction, Duration.ofSeconds(5))).isTrue();
        assertThat(registry.heldLocks()).isEqualTo(2);
        transaction.commit();
        ends.forEach(Runnable::run);
        assertThat(registry.heldLocks()).isZero();

        ends.clear();
        lockFrom(outsider(), set.keys().get(1));
        assertThat(set.tryAcquire(transaction)).isFalse();
        // the first member was taken and rolled back: it must not count until the transaction ends
        assertThat(registry.heldLocks()).isZero();
        assertThat(ends).isEmpty();
        transaction.commit();
    }

    @Test
    void autocommitConnectionIsRejected() throws Exception {
        TransactionLockSet set = registry().transactionLocks(List.of("a", "b"), LockOptions.exclusive());

        assertThatThrownBy(() -> set.tryAcquire(outsider())).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("autocommit");
    }

    @Test
    void inMemoryRegistryRefusesTransactionSets() {
        try (LockRegistry registry = LockRegistry.inMemory().build()) {
            assertThatThrownBy(() -> registry.transactionLocks(List.of("a", "b"), LockOptions.exclusive()))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("needs PostgreSQL");
        }
    }

    @Test
    void transfersInBothDirectionsInTransactionsNeverDeadlockAndLoseNoUpdate() throws Exception {
        String table = "accounts_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        try (Connection setup = DB.connect()) {
            Transfers.createAccounts(setup, table);
        }
        LockRegistry first = registry();
        LockRegistry second = registry();
        int threads = 8;
        int transfers = 25;
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Long>> work = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                LockRegistry registry = t % 2 == 0 ? first : second;
                work.add(executor.submit(() -> transfer(registry, table, thread, transfers)));
            }
            long aToB = 0;
            for (Future<Long> future : work) {
                aToB += future.get(60, TimeUnit.SECONDS);
            }
            long bToA = (long) threads * transfers - aToB;
            try (Connection check = DB.connect()) {
                assertThat(balance(check, table, "A")).isEqualTo(Transfers.OPENING - aToB + bToA);
                assertThat(balance(check, table, "B")).isEqualTo(Transfers.OPENING + aToB - bToA);
            }
        } finally {
            executor.shutdownNow();
        }
    }

    /** Read-then-write transfers of 1, in one transaction each, which overlap only without the set. */
    private long transfer(LockRegistry registry, String table, int thread, int transfers) throws Exception {
        long aToB = 0;
        try (Connection connection = dataSource.getConnection()) {
            connection.setAutoCommit(false);
            for (int i = 0; i < transfers; i++) {
                boolean forward = (thread + i) % 2 == 0;
                String from = forward ? "A" : "B";
                String to = forward ? "B" : "A";
                registry.transactionLocks(List.of("account:" + from, "account:" + to), LockOptions.exclusive())
                        .hold(connection, Duration.ofSeconds(10));
                long fromBalance = balance(connection, table, from);
                long toBalance = balance(connection, table, to);
                setBalance(connection, table, from, fromBalance - 1);
                setBalance(connection, table, to, toBalance + 1);
                connection.commit();
                aToB += forward ? 1 : 0;
            }
        }
        return aToB;
    }

    private static long balance(Connection connection, String table, String id) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT balance FROM " + table + " WHERE id = ?")) {
            select.setString(1, id);
            try (ResultSet rows = select.executeQuery()) {
                rows.next();
                return rows.getLong(1);
            }
        }
    }

    private static void setBalance(Connection connection, String table, String id, long balance) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("UPDATE " + table + " SET balance = ? WHERE id = ?")) {
            update.setLong(1, balance);
            update.setString(2, id);
            update.executeUpdate();
        }
    }

    private Connection transaction() throws SQLException {
        Connection connection = outsider();
        connection.setAutoCommit(false);
        return connection;
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
