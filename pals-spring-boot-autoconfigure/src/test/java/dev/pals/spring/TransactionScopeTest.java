package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.AcquireFailureException;
import dev.pals.LockKey;
import dev.pals.LockRegistry;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.UnexpectedRollbackException;
import org.springframework.transaction.annotation.EnableTransactionManagement;
import org.springframework.transaction.annotation.Transactional;

/** TRANSACTION scope lives in the caller's transaction; SESSION scope wraps @Transactional. */
class TransactionScopeTest extends StarterTestSupport {

    private final ExecutorService executor = Executors.newCachedThreadPool();
    private String database;

    @BeforeEach
    void createAccounts() throws Exception {
        database = DB.createDatabase();
        try (Connection connection = java.sql.DriverManager.getConnection(database, DB.user(), DB.password());
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE account (id bigint PRIMARY KEY, balance bigint NOT NULL)");
            statement.execute("INSERT INTO account VALUES (1, 0)");
            statement.execute("CREATE TABLE audit (entry text NOT NULL)");
        }
    }

    @AfterEach
    void stopExecutor() {
        executor.shutdownNow();
    }

    @Test
    void lockIsHeldUntilTheTransactionCommits() {
        twoInstances((one, two) -> {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Future<?> holding = executor.submit(() -> {
                one.getBean(Accounts.class).holdInTransaction("t", entered, release, false);
                return null;
            });
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
            LockRegistry other = two.getBean(LockRegistry.class);
            assertThat(other.lock("t").tryAcquire()).isFalse();

            release.countDown();
            holding.get(30, TimeUnit.SECONDS);

            assertThat(other.lock("t").tryAcquire()).isTrue();
        });
    }

    @Test
    void lockIsReleasedWhenTheTransactionRollsBack() {
        twoInstances((one, two) -> {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Future<?> failing = executor.submit(() -> {
                one.getBean(Accounts.class).holdInTransaction("t", entered, release, true);
                return null;
            });
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
            LockKey key = one.getBean(LockRegistry.class).lock("t").key();
            assertThat(grantedOnServer(key)).as("held inside the transaction").isOne();

            release.countDown();
            assertThatThrownBy(() -> failing.get(30, TimeUnit.SECONDS)).cause().hasMessage("roll back");

            assertThat(grantedOnServer(key)).as("gone with the rollback").isZero();
            assertThat(two.getBean(LockRegistry.class).lock("t").tryAcquire()).isTrue();
        });
    }

    @Test
    void twoInstancesIncrementingOneRowInTransactionScopeLoseNoUpdate() {
        twoInstances((one, two) -> {
            int total = incrementConcurrently(one, two, id -> one.getBean(Accounts.class).incrementInTransactionScope(id),
                    id -> two.getBean(Accounts.class).incrementInTransactionScope(id));
            assertThat(balance(one)).isEqualTo(total);
        });
    }

    @Test
    void sessionScopeWrapsTransactionalSoTwoInstancesLoseNoUpdate() {
        twoInstances((one, two) -> {
            int total = incrementConcurrently(one, two, id -> one.getBean(Accounts.class).incrementInSessionScope(id),
                    id -> two.getBean(Accounts.class).incrementInSessionScope(id));
            assertThat(balance(one)).isEqualTo(total);
        });
    }

    @Test
    void transactionScopeWithoutATransactionFailsSayingWhatToDo() {
        instances().run(context ->
                assertThatThrownBy(() -> context.getBean(Accounts.class).withoutTransaction("t"))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("Accounts.withoutTransaction(String)")
                        .hasMessageContaining("without an active transaction").hasMessageContaining("@Transactional"));
    }

    @Test
    void timedOutWaitInsideATransactionLeavesTheCallersTransactionUsable() {
        twoInstances((one, two) -> {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            executor.submit(() -> {
                one.getBean(Accounts.class).holdInTransaction("t", entered, release, false);
                return null;
            });
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();

            String outcome = two.getBean(Caller.class).auditAroundBriefLock("t");

            assertThat(outcome).isEqualTo("TIMED_OUT");
            assertThat(two.getBean(JdbcTemplate.class).queryForList("SELECT entry FROM audit ORDER BY entry",
                    String.class)).containsExactly("after", "before");
            release.countDown();
        });
    }

    @Test
    void sessionScopeWrapsTransactionalOrderedFirstWhenTheAdvisorOrderIsSetBelowIt() {
        twoInstances(instances().withUserConfiguration(TransactionsFirst.class)
                .withPropertyValues("pals.advisor-order=-1"), (one, two) -> {
            int total = incrementConcurrently(one, two, id -> one.getBean(Accounts.class).incrementInSessionScope(id),
                    id -> two.getBean(Accounts.class).incrementInSessionScope(id));
            assertThat(balance(one)).isEqualTo(total);
        });
    }

    @Test
    void contentionThrownFromATransactionalLockedMethodMarksTheTransactionRollbackOnlyAsSpringDoes() {
        twoInstances((one, two) -> {
            CountDownLatch release = holdInTransaction(one, "t");

            assertThatThrownBy(() -> two.getBean(Caller.class).auditAroundBriefTransactionalLock("t", false))
                    .isInstanceOf(UnexpectedRollbackException.class);
            release.countDown();
        });
    }

    @Test
    void noRollbackForAcquireFailureKeepsTheCallersTransactionCommittable() {
        twoInstances((one, two) -> {
            CountDownLatch release = holdInTransaction(one, "t");

            assertThat(two.getBean(Caller.class).auditAroundBriefTransactionalLock("t", true)).isEqualTo("TIMED_OUT");
            assertThat(two.getBean(JdbcTemplate.class).queryForList("SELECT entry FROM audit ORDER BY entry",
                    String.class)).containsExactly("after", "before");
            release.countDown();
        });
    }

    @Test
    void nestedCallsOnOneNamePassThroughAcrossScopes() {
        instances().run(context -> {
            Caller caller = context.getBean(Caller.class);
            assertThat(caller.sessionThenTransaction("mixed")).isEqualTo("inner ran");
            assertThat(caller.transactionThenSession("mixed")).isEqualTo("inner ran");
            assertThat(context.getBean(LockRegistry.class).lock("mixed").tryAcquire()).isTrue();
        });
    }

    private CountDownLatch holdInTransaction(AssertableApplicationContext instance, String name) throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        executor.submit(() -> {
            instance.getBean(Accounts.class).holdInTransaction(name, entered, release, false);
            return null;
        });
        assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
        return release;
    }

    /** Advisory locks on {@code key} granted to any session, seen from a connection of the test's own. */
    private static int grantedOnServer(LockKey key) throws Exception {
        return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true);
    }

    private int incrementConcurrently(AssertableApplicationContext one, AssertableApplicationContext two,
            LongConsumer first, LongConsumer second) throws Exception {
        int threadsEach = 4;
        int rounds = 25;
        List<Future<?>> results = new ArrayList<>();
        for (int t = 0; t < threadsEach; t++) {
            for (LongConsumer instance : List.of(first, second)) {
                results.add(executor.submit(() -> {
                    for (int i = 0; i < rounds; i++) {
                        instance.accept(1L);
                    }
                    return null;
                }));
            }
        }
        for (Future<?> result : results) {
            result.get(120, TimeUnit.SECONDS);
        }
        return threadsEach * 2 * rounds;
    }

    private static long balance(AssertableApplicationContext context) {
        return context.getBean(JdbcTemplate.class).queryForObject("SELECT balance FROM account WHERE id = 1", Long.class);
    }

    private ApplicationContextRunner instances() {
        return instance().withPropertyValues("spring.datasource.url=" + database,
                "spring.datasource.hikari.maximum-pool-size=8").withUserConfiguration(Fixture.class);
    }

    private void twoInstances(TwoInstances body) {
        twoInstances(instances(), body);
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Accounts accounts(JdbcTemplate jdbc) {
            return new Accounts(jdbc);
        }

        @Bean
        Caller caller(Accounts accounts, JdbcTemplate jdbc) {
            return new Caller(accounts, jdbc);
        }
    }

    static class Accounts {

        private final JdbcTemplate jdbc;

        Accounts(JdbcTemplate jdbc) {
            this.jdbc = jdbc;
        }

        /** Read, then write in a separate statement: only the lock keeps concurrent callers apart. */
        @Transactional
        @AdvisoryLocked(name = "'account:' + #id", scope = LockScope.TRANSACTION, timeout = "60s")
        public void incrementInTransactionScope(long id) {
            increment(id);
        }

        @Transactional
        @AdvisoryLocked(name = "'account:' + #id", timeout = "60s")
        public void incrementInSessionScope(long id) {
            increment(id);
        }

        private void increment(long id) {
            long balance = jdbc.queryForObject("SELECT balance FROM account WHERE id = ?", Long.class, id);
            jdbc.update("UPDATE account SET balance = ? WHERE id = ?", balance + 1, id);
        }

        @Transactional
        @AdvisoryLocked(name = "#name", scope = LockScope.TRANSACTION)
        public void holdInTransaction(String name, CountDownLatch entered, CountDownLatch release, boolean fail)
                throws InterruptedException {
            entered.countDown();
            release.await(60, TimeUnit.SECONDS);
            if (fail) {
                throw new IllegalStateException("roll back");
            }
        }

        @AdvisoryLocked(name = "#name", scope = LockScope.TRANSACTION)
        public void withoutTransaction(String name) {
        }

        @AdvisoryLocked(name = "#name", scope = LockScope.TRANSACTION, timeout = "200ms")
        public void lockBriefly(String name) {
        }

        @Transactional
        @AdvisoryLocked(name = "#name", scope = LockScope.TRANSACTION, timeout = "200ms")
        public void lockBrieflyInItsOwnTransactional(String name) {
        }

        @Transactional(noRollbackFor = AcquireFailureException.class)
        @AdvisoryLocked(name = "#name", scope = LockScope.TRANSACTION, timeout = "200ms")
        public void lockBrieflyWithoutRollback(String name) {
        }

        @AdvisoryLocked(name = "#name", timeout = "200ms")
        public String sessionBriefly(String name) {
            return "inner ran";
        }
    }

    static class Caller {

        private final Accounts accounts;
        private final JdbcTemplate jdbc;

        Caller(Accounts accounts, JdbcTemplate jdbc) {
            this.accounts = accounts;
            this.jdbc = jdbc;
        }

        @Transactional
        public String auditAroundBriefLock(String name) {
            jdbc.update("INSERT INTO audit VALUES ('before')");
            String outcome = "ACQUIRED";
            try {
                accounts.lockBriefly(name);
            } catch (AcquireFailureException e) {
                outcome = e.reason().name();
            }
            jdbc.update("INSERT INTO audit VALUES ('after')");
            return outcome;
        }

        @Transactional
        public String auditAroundBriefTransactionalLock(String name, boolean withoutRollback) {
            jdbc.update("INSERT INTO audit VALUES ('before')");
            String outcome = "ACQUIRED";
            try {
                if (withoutRollback) {
                    accounts.lockBrieflyWithoutRollback(name);
                } else {
                    accounts.lockBrieflyInItsOwnTransactional(name);
                }
            } catch (AcquireFailureException e) {
                outcome = e.reason().name();
            }
            jdbc.update("INSERT INTO audit VALUES ('after')");
            return outcome;
        }

        @Transactional
        @AdvisoryLocked(name = "#name", timeout = "1s")
        public String sessionThenTransaction(String name) {
            accounts.lockBriefly(name);
            return "inner ran";
        }

        @Transactional
        @AdvisoryLocked(name = "#name", scope = LockScope.TRANSACTION, timeout = "1s")
        public String transactionThenSession(String name) {
            return accounts.sessionBriefly(name);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableTransactionManagement(order = 0)
    static class TransactionsFirst {
    }
}
