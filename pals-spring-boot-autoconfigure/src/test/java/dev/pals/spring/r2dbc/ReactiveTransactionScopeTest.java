package dev.pals.spring.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import dev.pals.LockKey;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.LockScope;
import dev.pals.spring.OnContention;
import dev.pals.spring.StarterTestSupport;
import dev.pals.spring.aop.AdvisoryLockedAutoConfiguration;
import dev.pals.testing.TestDatabase;
import io.r2dbc.spi.ConnectionFactory;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.aop.AopAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.transaction.annotation.Transactional;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/**
 * {@code @AdvisoryLocked(scope = TRANSACTION)} on {@code @Transactional} methods returning a
 * {@code Mono}, in a reactive R2DBC service of one or two instances, on the real server: the lock is
 * the reactive transaction's, taken on its connection and freed by its commit or rollback.
 */
class ReactiveTransactionScopeTest extends StarterTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(30);

    private final String table = TestDatabase.uniqueName("ledger_").replace('-', '_');

    @BeforeEach
    void createCounter() throws Exception {
        try (Connection connection = DB.connect(); Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE " + table + " (id int PRIMARY KEY, n int NOT NULL)");
            statement.execute("INSERT INTO " + table + " VALUES (1, 0)");
        }
    }

    /** A counter incremented by read, pause and write, each increment locked in its transaction. */
    static class Ledger {

        private final DatabaseClient database;
        private final String table;
        private final LockRegistry registry;
        /** The number of transactions of this instance seen holding the lock, checked from outside. */
        private final AtomicInteger seenHeld = new AtomicInteger();

        Ledger(ConnectionFactory connectionFactory, String table, LockRegistry registry) {
            this.database = DatabaseClient.create(connectionFactory);
            this.table = table;
            this.registry = registry;
        }

        /** Through a method: the service is a class proxy, whose fields are not the target's. */
        public int seenHeld() {
            return seenHeld.get();
        }

        @Transactional
        @AdvisoryLocked(name = "ledger", scope = LockScope.TRANSACTION, timeout = "30s")
        public Mono<Void> increment() {
            return read().flatMap(n -> Mono.delay(Duration.ofMillis(20)).then(held()).then(write(n + 1)));
        }

        @Transactional
        @AdvisoryLocked(name = "ledger", scope = LockScope.TRANSACTION, blocking = false,
                onContention = OnContention.SKIP)
        public Mono<String> incrementUnlessBusy() {
            return increment().thenReturn("ran");
        }

        @Transactional
        @AdvisoryLocked(name = "ledger", scope = LockScope.TRANSACTION, blocking = false)
        public Mono<String> incrementOrFail() {
            return increment().thenReturn("ran");
        }

        @Transactional
        @AdvisoryLocked(name = "ledger", scope = LockScope.TRANSACTION, timeout = "30s")
        public Mono<Void> holdUntil(Mono<?> end) {
            return end.then();
        }

        private Mono<Void> held() {
            LockKey key = registry.transactionLock("ledger", LockOptions.exclusive()).key();
            return Mono.fromCallable(() -> {
                try (Connection connection = DB.connect()) {
                    if (TestDatabase.advisoryLocks(connection, key.classId(), key.objId(), key.objSubId(), true) == 1) {
                        seenHeld.incrementAndGet();
                    }
                }
                return 1;
            }).subscribeOn(Schedulers.boundedElastic()).then();
        }

        private Mono<Integer> read() {
            return database.sql("SELECT n FROM " + table + " WHERE id = 1")
                    .map(row -> Objects.requireNonNull(row.get(0, Integer.class))).one();
        }

        private Mono<Void> write(int n) {
            return database.sql("UPDATE " + table + " SET n = $1 WHERE id = 1").bind(0, n).fetch().rowsUpdated()
                    .then();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class LedgerConfiguration {
        @Bean
        Ledger ledger(ConnectionFactory connectionFactory, LockRegistry registry, Environment environment) {
            return new Ledger(connectionFactory, environment.getRequiredProperty("test.table"), registry);
        }
    }

    /** A reactive service: R2DBC and its transactions as Spring Boot configures them, PALs, and the ledger. */
    /** A reactive service of {@link ReactiveTransactionLocksTest}'s with AOP, the annotation and the ledger. */
    private ApplicationContextRunner service() {
        return ReactiveTransactionLocksTest.reactiveService(namespace)
                .withConfiguration(AutoConfigurations.of(AopAutoConfiguration.class,
                        AdvisoryLockedAutoConfiguration.class))
                .withPropertyValues("test.table=" + table).withUserConfiguration(LedgerConfiguration.class);
    }

    @Test
    void concurrentLockedIncrementsOnTwoInstancesLoseNoUpdate() {
        twoInstances(service(), (one, two) -> {
            Ledger first = one.getBean(Ledger.class);
            Ledger second = two.getBean(Ledger.class);
            Flux.range(0, 20).flatMap(i -> (i % 2 == 0 ? first : second).increment(), 20).then().block(WAIT);

            assertThat(count()).as("every increment counted").isEqualTo(20);
            assertThat(first.seenHeld() + second.seenHeld()).as("each increment saw its lock in pg_locks")
                    .isEqualTo(20);
        });
    }

    @Test
    void whileAnotherInstancesTransactionHoldsTheLockSkipCompletesEmptyAndThrowFails() {
        twoInstances(service(), (one, two) -> {
            LockKey key = one.getBean(LockRegistry.class).transactionLock("ledger", LockOptions.exclusive()).key();
            Sinks.Empty<Void> end = Sinks.empty();
            var holding = one.getBean(Ledger.class).holdUntil(end.asMono()).toFuture();
            await().atMost(WAIT).until(() -> granted(key) == 1);

            StepVerifier.create(two.getBean(Ledger.class).incrementUnlessBusy()).expectComplete().verify(WAIT);
            StepVerifier.create(two.getBean(Ledger.class).incrementOrFail())
                    .expectErrorSatisfies(failure -> assertThat(failure).isInstanceOf(AcquireFailureException.class))
                    .verify(WAIT);
            end.tryEmitEmpty();
            holding.get(30, TimeUnit.SECONDS);

            assertThat(granted(key)).as("the lock went with the commit").isZero();
            assertThat(count()).as("neither skipped nor failed call wrote").isZero();
        });
    }

    @Test
    void theLockGoesWithTheTransactionsRollback() throws Exception {
        service().run(context -> {
            LockKey key = context.getBean(LockRegistry.class).transactionLock("ledger", LockOptions.exclusive()).key();
            Sinks.Empty<Void> end = Sinks.empty();
            var holding = context.getBean(Ledger.class).holdUntil(end.asMono()).toFuture();
            await().atMost(WAIT).until(() -> granted(key) == 1);

            end.tryEmitError(new IllegalStateException("rolled back"));

            assertThat(holding).failsWithin(WAIT);
            await().atMost(WAIT).until(() -> granted(key) == 0);
        });
    }

    private static int granted(LockKey key) throws Exception {
        try (Connection connection = DB.connect()) {
            return TestDatabase.advisoryLocks(connection, key.classId(), key.objId(), key.objSubId(), true);
        }
    }

    private int count() throws Exception {
        try (Connection connection = DB.connect(); Statement statement = connection.createStatement();
                var rows = statement.executeQuery("SELECT n FROM " + table + " WHERE id = 1")) {
            rows.next();
            return rows.getInt(1);
        }
    }
}
