package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.AcquireFailureException;
import dev.pals.HeldLock;
import dev.pals.LockKey;
import dev.pals.LockRegistry;
import dev.pals.spring.aop.AdvisoryLocks;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionTemplate;

/** What README promises of TRANSACTION scope: where the lock lives, and what a wrong or cut-short call gets. */
class TransactionScopeContractTest extends StarterTestSupport {

    private String database;

    @BeforeEach
    void createDatabase() throws Exception {
        database = DB.createDatabase();
        try (Connection connection = DriverManager.getConnection(database, DB.user(), DB.password());
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE audit (entry text NOT NULL)");
        }
    }

    /** What a locked method saw of its own transaction and of its lock in pg_locks. */
    record Seen(int backendPid, String virtualTransaction, Integer lockPid, String lockVirtualTransaction) {
    }

    static class Ledger {

        private final JdbcTemplate jdbc;

        Ledger(JdbcTemplate jdbc) {
            this.jdbc = jdbc;
        }

        @Transactional
        @AdvisoryLocked(name = "#name", scope = LockScope.TRANSACTION)
        public Seen inspect(String name, LockKey key) {
            jdbc.update("INSERT INTO audit VALUES ('inspected')");
            Map<String, Object> own = jdbc.queryForMap("SELECT pid, virtualtransaction FROM pg_locks "
                    + "WHERE locktype = 'virtualxid' AND pid = pg_backend_pid()");
            Map<String, Object> lock = jdbc.queryForList("SELECT pid, virtualtransaction FROM pg_locks "
                    + "WHERE locktype = 'advisory' AND granted AND classid = ? AND objid = ? AND objsubid = ?",
                    key.classId(), key.objId(), key.objSubId()).stream().findFirst().orElse(Map.of());
            return new Seen((Integer) own.get("pid"), (String) own.get("virtualtransaction"),
                    (Integer) lock.get("pid"), (String) lock.get("virtualtransaction"));
        }

        @Transactional
        @AdvisoryLocked(name = "#name", scope = LockScope.TRANSACTION, timeout = "60s")
        public void waitLong(String name) {
        }

        @AdvisoryLocked(name = "#name", scope = LockScope.TRANSACTION)
        public void inCallersTransaction(String name) {
            AdvisoryLocks.assertHeld();
        }
    }

    static class Caller {

        private final Ledger ledger;

        Caller(Ledger ledger) {
            this.ledger = ledger;
        }

        /** The lock outlives the locked call until its transaction ends, and the check says so. */
        @Transactional
        public String checkAfterTheLockedCallReturned(String name) {
            ledger.inCallersTransaction(name);
            AdvisoryLocks.assertHeld();
            return "checked";
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Ledger ledger(JdbcTemplate jdbc) {
            return new Ledger(jdbc);
        }

        @Bean
        Caller caller(Ledger ledger) {
            return new Caller(ledger);
        }
    }

    private ApplicationContextRunner service() {
        return instance().withPropertyValues("spring.datasource.url=" + database).withUserConfiguration(Fixture.class);
    }

    @Test
    void lockIsTakenInsideTheMethodsTransactionOnItsConnection() {
        service().run(context -> {
            LockKey key = context.getBean(LockRegistry.class).lock("order:1").key();

            Seen seen = context.getBean(Ledger.class).inspect("order:1", key);

            assertThat(seen.lockPid()).as("held by the transaction's backend").isEqualTo(seen.backendPid());
            assertThat(seen.lockVirtualTransaction()).as("held by the transaction itself")
                    .isEqualTo(seen.virtualTransaction());
            assertThat(DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true)).as("released at commit")
                    .isZero();
        });
    }

    @Test
    void interruptedWaitThrowsInterruptedKeepsTheInterruptAndLeavesNothingWaiting() {
        twoInstances(service(), (one, two) -> {
            HeldLock held = one.getBean(LockRegistry.class).lock("t").hold();
            LockKey key = held.lock().key();
            CompletableFuture<Throwable> failure = new CompletableFuture<>();
            CompletableFuture<Boolean> interruptKept = new CompletableFuture<>();
            Thread caller = new Thread(() -> {
                try {
                    two.getBean(Ledger.class).waitLong("t");
                    failure.complete(null);
                } catch (Throwable e) {
                    failure.complete(e);
                }
                interruptKept.complete(Thread.currentThread().isInterrupted());
            });
            caller.start();
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), false) == 1);

            caller.interrupt();

            assertThat(failure.get(30, TimeUnit.SECONDS)).isInstanceOfSatisfying(AcquireFailureException.class,
                    e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.INTERRUPTED));
            assertThat(interruptKept.get(30, TimeUnit.SECONDS)).isTrue();
            assertThat(DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), false)).isZero();
            held.close();
        });
    }

    @Test
    void transactionOfAnotherDataSourceIsRefusedSayingSo() {
        service().run(context -> {
            try (HikariDataSource foreign = DB.dataSource(database, 1)) {
                TransactionTemplate transaction = new TransactionTemplate(new DataSourceTransactionManager(foreign));
                Ledger ledger = context.getBean(Ledger.class);

                assertThatThrownBy(() -> transaction.executeWithoutResult(status -> ledger.inCallersTransaction("t")))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("Ledger.inCallersTransaction(String)")
                        .hasMessageContaining("does not use the service's DataSource")
                        .hasMessageContaining("use scope = SESSION");
            }
        });
    }

    @Test
    void transactionScopeWithoutATransactionSaysToAddTransactionalOrUseSession() {
        service().run(context ->
                assertThatThrownBy(() -> context.getBean(Ledger.class).inCallersTransaction("t"))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("Ledger.inCallersTransaction(String)")
                        .hasMessageContaining("without an active transaction")
                        .hasMessageContaining("@Transactional").hasMessageContaining("use scope = SESSION"));
    }

    @Test
    void assertHeldPassesInATransactionScopedCallAndAfterItUntilItsTransactionEnds() {
        service().run(context -> {
            assertThat(context.getBean(Caller.class).checkAfterTheLockedCallReturned("t")).isEqualTo("checked");

            assertThatThrownBy(AdvisoryLocks::assertHeld).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("outside any @AdvisoryLocked method");
        });
    }
}
