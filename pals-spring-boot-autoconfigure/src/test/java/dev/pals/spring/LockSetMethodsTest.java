package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.LockRegistry;
import dev.pals.spring.aop.AdvisoryLocks;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.jdbc.core.JdbcTemplate;

/** {@code @AdvisoryLocked(names = ...)}: a transfer holding both accounts, on two instances of a service. */
class LockSetMethodsTest extends StarterTestSupport {

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
    void transfersInBothDirectionsOnTwoInstancesNeverDeadlockAndLoseNoUpdate() {
        twoInstances(instance().withBean(Bank.class), (one, two) -> {
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
    void aCallThatCannotHaveOneAccountDoesNotRunAndHoldsNeither() {
        twoInstances(instance().withBean(Bank.class), (one, two) -> {
            AdvisoryLock b = one.getBean(LockRegistry.class).lock("account:B");
            assertThat(b.tryAcquire()).isTrue();

            assertThatThrownBy(() -> two.getBean(Bank.class).tryTransfer(table, "A", "B"))
                    .isInstanceOfSatisfying(AcquireFailureException.class,
                            e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED))
                    .hasMessageContaining("account:A").hasMessageContaining("account:B");
            assertThat(balance(one.getBean(JdbcTemplate.class), "A")).as("the transfer did not run").isEqualTo(OPENING);

            assertThat(one.getBean(LockRegistry.class).lock("account:A").tryAcquire())
                    .as("the other instance holds no account A").isTrue();
            b.release();
        });
    }

    @Test
    void aNestedCallOnNamesTheOuterCallHoldsPassesThrough() {
        instance().withBean(Bank.class).withBean(Teller.class).run(context -> {
            assertThat(context.getBean(Teller.class).transferTwice(table, "A", "B")).isEqualTo(2);

            assertThat(balance(context.getBean(JdbcTemplate.class), "B")).isEqualTo(OPENING + 2);
        });
    }

    static Object[][] mistakes() {
        return new Object[][] {
            {NameAndNames.class, "NameAndNames.run(String)", "both name = \"job\" and names are given"},
            {BlankMember.class, "BlankMember.run(String)", "name must not be blank"},
            {NamesHoldAtLeast.class, "NamesHoldAtLeast.run(String)", "holdAtLeast is not supported"},
        };
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("mistakes")
    void aWrongNamesAttributeFailsStartUpNamingTheMethod(Class<?> bean, String method, String problem) {
        instance().withBean(bean).run(context -> {
            assertThat(context).hasFailed();
            Throwable cause = context.getStartupFailure();
            while (cause.getCause() != null && !cause.getMessage().startsWith("@AdvisoryLocked on ")) {
                cause = cause.getCause();
            }
            assertThat(cause.getMessage()).startsWith("@AdvisoryLocked on " + method + ": ").contains(problem);
        });
    }

    private long balance(JdbcTemplate jdbc, String account) {
        Long balance = jdbc.queryForObject("SELECT balance FROM " + table + " WHERE id = ?", Long.class, account);
        assertThat(balance).isNotNull();
        return balance;
    }

    /** Moves 1 from one account to the other, reading and writing apart so that overlapping transfers lose updates. */
    static class Bank {
        private final JdbcTemplate jdbc;

        Bank(JdbcTemplate jdbc) {
            this.jdbc = jdbc;
        }

        @AdvisoryLocked(names = {"'account:' + #from", "'account:' + #to"}, timeout = "20s")
        public void transfer(String table, String from, String to) {
            move(table, from, to);
        }

        @AdvisoryLocked(names = {"'account:' + #from", "'account:' + #to"}, blocking = false)
        public void tryTransfer(String table, String from, String to) {
            move(table, from, to);
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

    /** Makes two transfers within one call that holds both accounts already. */
    static class Teller {
        private final Bank bank;

        Teller(Bank bank) {
            this.bank = bank;
        }

        @AdvisoryLocked(names = {"'account:' + #to", "'account:' + #from"}, blocking = false)
        public int transferTwice(String table, String from, String to) {
            AdvisoryLocks.assertHeld();
            bank.tryTransfer(table, from, to);
            bank.tryTransfer(table, from, to);
            return 2;
        }
    }

    static class NameAndNames {
        @AdvisoryLocked(name = "job", names = {"'a:' + #id", "b"})
        public void run(String id) {
        }
    }

    static class BlankMember {
        @AdvisoryLocked(names = {"'a:' + #id", " "})
        public void run(String id) {
        }
    }

    static class NamesHoldAtLeast {
        @AdvisoryLocked(names = {"'a:' + #id", "b"}, holdAtLeast = "5s")
        public void run(String id) {
        }
    }

}
