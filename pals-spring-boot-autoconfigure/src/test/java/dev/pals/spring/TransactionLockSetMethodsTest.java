package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.LockKey;
import dev.pals.LockRegistry;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.annotation.Transactional;
import reactor.core.publisher.Mono;

/**
 * {@code @AdvisoryLocked(names = ..., scope = TRANSACTION)} on a {@code @Transactional} transfer:
 * both accounts held by the transaction that moves the money, on two instances of a service.
 */
class TransactionLockSetMethodsTest extends StarterTestSupport {

    private static final long OPENING = 1_000_000;

    private final String table = "accounts_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    private final ExecutorService executor = Executors.newCachedThreadPool();

    @BeforeEach
    void createAccounts() throws Exception {
        try (Connection connection = DB.connect(); Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE " + table + " (id text PRIMARY KEY, balance bigint NOT NULL)");
            statement.execute("INSERT INTO " + table + " VALUES ('A', " + OPENING + "), ('B', " + OPENING + ")");
        }
    }

    @AfterEach
    void dropAccounts() throws Exception {
        executor.shutdownNow();
        try (Connection connection = DB.connect(); Statement statement = connection.createStatement()) {
            statement.execute("DROP TABLE " + table);
        }
    }

    @Test
    void transactionalTransfersInBothDirectionsOnTwoInstancesNeverDeadlockAndLoseNoUpdate() {
        twoInstances(bank(), (one, two) -> {
            List<Future<Long>> work = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                Bank bank = (t % 2 == 0 ? one : two).getBean(Bank.class);
                int thread = t;
                work.add(executor.submit(() -> {
                    long aToB = 0;
                    for (int i = 0; i < 25; i++) {
                        boolean forward = (thread / 2 + i) % 2 == 0;
                        bank.transfer(table, forward ? "A" : "B", forward ? "B" : "A");
                        aToB += forward ? 1 : 0;
                    }
                    return aToB;
                }));
            }
            long aToB = 0;
            for (Future<Long> done : work) {
                aToB += done.get(120, TimeUnit.SECONDS);
            }
            long bToA = 8 * 25 - aToB;
            JdbcTemplate jdbc = one.getBean(JdbcTemplate.class);
            assertThat(balance(jdbc, "A")).isEqualTo(OPENING - aToB + bToA);
            assertThat(balance(jdbc, "B")).isEqualTo(OPENING + aToB - bToA);
            assertThat(aToB).as("both directions ran").isPositive().isLessThan(8 * 25);
        });
    }

    @Test
    void aTransferThatCannotHaveOneAccountDoesNotRunAndItsTransactionHoldsNeither() {
        twoInstances(bank(), (one, two) -> {
            AdvisoryLock b = one.getBean(LockRegistry.class).lock("account:B");
            assertThat(b.tryAcquire()).isTrue();

            assertThatThrownBy(() -> two.getBean(Bank.class).tryTransfer(table, "A", "B"))
                    .isInstanceOfSatisfying(AcquireFailureException.class,
                            e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED))
                    .hasMessageContaining("account:A").hasMessageContaining("account:B");
            assertThat(balance(one.getBean(JdbcTemplate.class), "A")).as("the transfer did not run").isEqualTo(OPENING);

            assertThat(grantedOnServer(one.getBean(LockRegistry.class).lock("account:A").key()))
                    .as("nobody holds account A").isZero();
            b.release();
        });
    }

    @Test
    void bothAccountsAreHeldUntilTheTransactionRollsBackAndFreedByIt() {
        twoInstances(bank(), (one, two) -> {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Future<?> failing = executor.submit(() -> {
                one.getBean(Bank.class).transferThenFail(table, "A", "B", entered, release);
                return null;
            });
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
            LockRegistry other = two.getBean(LockRegistry.class);
            LockKey a = other.lock("account:A").key();
            LockKey b = other.lock("account:B").key();
            assertThat(grantedOnServer(a)).as("A held inside the transaction").isOne();
            assertThat(grantedOnServer(b)).as("B held inside the transaction").isOne();

            release.countDown();
            assertThatThrownBy(() -> failing.get(30, TimeUnit.SECONDS)).cause().hasMessage("roll back");

            assertThat(grantedOnServer(a)).as("A gone with the rollback").isZero();
            assertThat(grantedOnServer(b)).as("B gone with the rollback").isZero();
            assertThat(balance(one.getBean(JdbcTemplate.class), "A")).as("the transfer rolled back").isEqualTo(OPENING);
        });
    }

    @Test
    void aNestedSessionTransferOnAccountsTheOuterTransactionHoldsPassesThrough() {
        bank().withBean(Teller.class).run(context -> {
            // without passing through, the nested session locks would contend with the transaction's own
            assertThat(context.getBean(Teller.class).transferTwice(table, "A", "B")).isEqualTo(2);

            assertThat(balance(context.getBean(JdbcTemplate.class), "B")).isEqualTo(OPENING + 2);
        });
    }

    @Test
    void aNestedTransferOnAccountsTheOuterTransactionHoldsOnlyOneOfIsRefused() {
        bank().withBean(Teller.class).run(context -> {
            assertThatThrownBy(() -> context.getBean(Teller.class).transferHoldingOne(table, "A", "B"))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("holds only [account:A]");

            assertThat(balance(context.getBean(JdbcTemplate.class), "A")).isEqualTo(OPENING);
        });
    }

    @Test
    void aReactiveMethodWithNamesInTransactionScopeFailsStartUpSayingWhy() {
        instance().withBean(ReactiveTransfer.class).run(context -> {
            assertThat(context).hasFailed();
            Throwable cause = context.getStartupFailure();
            while (cause.getCause() != null && !cause.getMessage().startsWith("@AdvisoryLocked on ")) {
                cause = cause.getCause();
            }
            assertThat(cause.getMessage()).startsWith("@AdvisoryLocked on ReactiveTransfer.run(String): ")
                    .contains("not supported in a reactive (R2DBC) one");
        });
    }

    private ApplicationContextRunner bank() {
        return instance().withBean(Bank.class);
    }

    private static int grantedOnServer(LockKey key) throws Exception {
        return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true);
    }

    private long balance(JdbcTemplate jdbc, String account) {
        Long balance = jdbc.queryForObject("SELECT balance FROM " + table + " WHERE id = ?", Long.class, account);
        assertThat(balance).isNotNull();
        return balance;
    }

    /** Moves 1 in a transaction, reading and writing apart so that overlapping transfers lose updates. */
    static class Bank {
        private final JdbcTemplate jdbc;

        Bank(JdbcTemplate jdbc) {
            this.jdbc = jdbc;
        }

        @Transactional
        @AdvisoryLocked(names = {"'account:' + #from", "'account:' + #to"}, scope = LockScope.TRANSACTION,
                timeout = "20s")
        public void transfer(String table, String from, String to) {
            move(table, from, to);
        }

        @Transactional
        @AdvisoryLocked(names = {"'account:' + #from", "'account:' + #to"}, scope = LockScope.TRANSACTION,
                blocking = false)
        public void tryTransfer(String table, String from, String to) {
            move(table, from, to);
        }

        @AdvisoryLocked(names = {"'account:' + #from", "'account:' + #to"}, blocking = false)
        public void tryTransferInSession(String table, String from, String to) {
            move(table, from, to);
        }

        @Transactional
        @AdvisoryLocked(names = {"'account:' + #from", "'account:' + #to"}, scope = LockScope.TRANSACTION)
        public void transferThenFail(String table, String from, String to, CountDownLatch entered,
                CountDownLatch release) throws InterruptedException {
            move(table, from, to);
            entered.countDown();
            release.await(60, TimeUnit.SECONDS);
            throw new IllegalStateException("roll back");
        }

        private void move(String table, String from, String to) {
            long fromBalance = balanceOf(table, from);
            long toBalance = balanceOf(table, to);
            jdbc.update("UPDATE " + table + " SET balance = ? WHERE id = ?", fromBalance - 1, from);
            jdbc.update("UPDATE " + table + " SET balance = ? WHERE id = ?", toBalance + 1, to);
        }

        private long balanceOf(String table, String account) {
            Long balance = jdbc.queryForObject("SELECT balance FROM " + table + " WHERE id = ?", Long.class, account);
            return balance == null ? 0 : balance;
        }
    }

    static class ReactiveTransfer {
        @AdvisoryLocked(names = {"'a:' + #id", "b"}, scope = LockScope.TRANSACTION)
        public Mono<Void> run(String id) {
            return Mono.empty();
        }
    }

    /** Makes two transfers in one transaction that holds both accounts already. */
    static class Teller {
        private final Bank bank;

        Teller(Bank bank) {
            this.bank = bank;
        }

        @Transactional
        @AdvisoryLocked(names = {"'account:' + #to", "'account:' + #from"}, scope = LockScope.TRANSACTION,
                blocking = false)
        public int transferTwice(String table, String from, String to) {
            bank.tryTransferInSession(table, from, to);
            bank.tryTransferInSession(table, from, to);
            return 2;
        }

        @Transactional
        @AdvisoryLocked(name = "'account:' + #from", scope = LockScope.TRANSACTION, blocking = false)
        public void transferHoldingOne(String table, String from, String to) {
            bank.tryTransfer(table, from, to);
        }
    }
}
