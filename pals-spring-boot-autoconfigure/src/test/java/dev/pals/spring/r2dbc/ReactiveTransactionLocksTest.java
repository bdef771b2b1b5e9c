package dev.pals.spring.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import dev.pals.LockKey;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import dev.pals.UnsupportedLockServerException;
import dev.pals.spring.StarterTestSupport;
import dev.pals.spring.autoconfigure.PalsAutoConfiguration;
import dev.pals.testing.TestDatabase;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import java.net.URI;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.r2dbc.autoconfigure.R2dbcAutoConfiguration;
import org.springframework.boot.r2dbc.autoconfigure.R2dbcTransactionManagerAutoConfiguration;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.transaction.autoconfigure.TransactionAutoConfiguration;
import org.springframework.r2dbc.connection.R2dbcTransactionManager;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.transaction.reactive.TransactionalOperator;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

/**
 * TRANSACTION scope in reactive R2DBC transactions, on the real server: a WebFlux-style service
 * with Spring Boot's R2DBC auto-configuration (no JDBC DataSource of its own; the locks' pool comes
 * from {@code pals.datasource.*}), one or two instances of it.
 */
class ReactiveTransactionLocksTest extends StarterTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final LockOptions EXCLUSIVE = LockOptions.exclusive();

    private final String table = TestDatabase.uniqueName("counter_").replace('-', '_');

    @BeforeEach
    void createCounter() throws Exception {
        try (Connection connection = DB.connect(); Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE " + table + " (id int PRIMARY KEY, n int NOT NULL)");
            statement.execute("INSERT INTO " + table + " VALUES (1, 0)");
        }
    }

    /** The test server's default database as an R2DBC URL: the same host, port and database as its JDBC URL. */
    static String r2dbcUrl() {
        URI jdbc = URI.create(DB.url().substring("jdbc:".length()));
        return "r2dbc:postgresql://" + jdbc.getHost() + ":" + jdbc.getPort() + jdbc.getPath();
    }

    /** A ConnectionFactory of the test's own on the test server, outside any application context. */
    static ConnectionFactory connectionFactory() {
        return ConnectionFactories.get(ConnectionFactoryOptions.parse(r2dbcUrl()).mutate()
                .option(ConnectionFactoryOptions.USER, DB.user())
                .option(ConnectionFactoryOptions.PASSWORD, DB.password()).build());
    }

    /**
     * A reactive service: R2DBC and its transaction manager as Spring Boot configures them, and PALs. Boot's
     * DataSource auto-configuration is there, as the starter brings it, and backs off for the ConnectionFactory;
     * it also orders R2DBC's before the transaction manager's, which PALs' own ordering would otherwise reverse.
     */
    ApplicationContextRunner reactiveService() {
        return reactiveService(namespace);
    }

    /** {@link #reactiveService()} for a test of its own, with the namespace it names. */
    static ApplicationContextRunner reactiveService(String namespace) {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(DataSourceAutoConfiguration.class, R2dbcAutoConfiguration.class,
                        R2dbcTransactionManagerAutoConfiguration.class, TransactionAutoConfiguration.class,
                        PalsAutoConfiguration.class, PalsR2dbcAutoConfiguration.class))
                .withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=1s",
                        "spring.r2dbc.url=" + r2dbcUrl(), "spring.r2dbc.username=" + DB.user(),
                        "spring.r2dbc.password=" + DB.password(), "pals.datasource.url=" + DB.url(),
                        "pals.datasource.username=" + DB.user(), "pals.datasource.password=" + DB.password(),
                        "spring.application.name=" + namespace);
    }

    /** What a test uses of one instance of the service. */
    private final class Service {

        final TransactionalOperator transactions;
        final ReactiveTransactionLocks locks;
        final LockRegistry registry;
        final DatabaseClient database;

        Service(AssertableApplicationContext context) {
            assertThat(context).hasNotFailed();
            transactions = context.getBean(TransactionalOperator.class);
            locks = context.getBean(ReactiveTransactionLocks.class);
            registry = context.getBean(LockRegistry.class);
            database = DatabaseClient.create(context.getBean(ConnectionFactory.class));
        }

        Mono<Integer> read() {
            return database.sql("SELECT n FROM " + table + " WHERE id = 1")
                    .map(row -> Objects.requireNonNull(row.get(0, Integer.class))).one();
        }

        Mono<Void> write(int n) {
            return database.sql("UPDATE " + table + " SET n = $1 WHERE id = 1").bind(0, n).fetch().rowsUpdated()
                    .then();
        }

        /** Reads the counter, waits for {@code meanwhile}, and writes it back one higher, in the current transaction. */
        Mono<Void> increment(Mono<?> meanwhile) {
            return read().flatMap(n -> meanwhile.then(write(n + 1)));
        }

        Mono<String> lockTimeout() {
            return database.sql("SHOW lock_timeout").map(row -> Objects.requireNonNull(row.get(0, String.class)))
                    .one();
        }

        /**
         * Holds the lock in a transaction that stays open until {@code end} completes (committing) or fails
         * (rolling back); completes when the transaction has ended.
         */
        CompletableFuture<Void> holdUntil(String name, LockOptions options, Mono<Void> end) {
            return transactions.transactional(locks.lock(name, options, WAIT).then(end)).toFuture();
        }

        LockKey key(String name) {
            return registry.transactionLock(name, EXCLUSIVE).key();
        }
    }

    private static int granted(LockKey key) throws Exception {
        return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true);
    }

    private static int waiting(LockKey key) throws Exception {
        return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), false);
    }

    private int counter() throws Exception {
        try (Connection connection = DB.connect(); Statement statement = connection.createStatement();
                var rows = statement.executeQuery("SELECT n FROM " + table + " WHERE id = 1")) {
            rows.next();
            return rows.getInt(1);
        }
    }

    @Test
    void concurrentLockedIncrementsOnTwoInstancesLoseNoUpdate() {
        int increments = 20;
        twoInstances(reactiveService(), (one, two) -> {
            Service[] instances = {new Service(one), new Service(two)};
            // the pause between read and write gives an unlocked increment every chance to lose another's
            Flux.range(0, increments).flatMap(i -> {
                Service service = instances[i % 2];
                return service.transactions.transactional(service.locks.lock("counter", EXCLUSIVE, WAIT)
                        .then(service.increment(Mono.delay(Duration.ofMillis(20)))));
            }, increments).then().block(Duration.ofSeconds(30));
            assertThat(counter()).isEqualTo(increments);
        });
    }

    /** The counter the test above protects is a real read-modify-write: unlocked, every increment can be lost but one. */
    @Test
    void withoutTheLockIncrementsThatAllReadBeforeAnyWritesLoseAllButOneUpdate() {
        int increments = 20;
        twoInstances(reactiveService(), (one, two) -> {
            Service[] instances = {new Service(one), new Service(two)};
            AtomicInteger readers = new AtomicInteger();
            Sinks.Empty<Void> allHaveRead = Sinks.empty();
            Mono<Void> afterAllHaveRead = Mono.defer(() -> {
                if (readers.incrementAndGet() == increments) {
                    allHaveRead.tryEmitEmpty();
                }
                return allHaveRead.asMono();
            });
            Flux.range(0, increments).flatMap(i -> {
                Service service = instances[i % 2];
                return service.transactions.transactional(service.increment(afterAllHaveRead));
            }, increments).then().block(Duration.ofSeconds(30));
            assertThat(counter()).isEqualTo(1);
        });
    }

    @Test
    void theKeyIsInPgLocksWhileTheTransactionIsOpenAndGoneAfterItCommits() {
        reactiveService().run(context -> {
            Service service = new Service(context);
            LockKey key = service.key("report");
            Sinks.Empty<Void> commit = Sinks.empty();
            CompletableFuture<Void> transaction = service.holdUntil("report", EXCLUSIVE,
                    service.write(7).then(commit.asMono()));
            await().atMost(WAIT).until(() -> granted(key) == 1);

            commit.tryEmitEmpty();
            transaction.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(granted(key)).isZero();
            assertThat(counter()).as("committed").isEqualTo(7);
        });
    }

    @Test
    void theKeyIsGoneAfterTheTransactionRollsBack() {
        reactiveService().run(context -> {
            Service service = new Service(context);
            LockKey key = service.key("report");
            Sinks.Empty<Void> rollBack = Sinks.empty();
            CompletableFuture<Void> transaction = service.holdUntil("report", EXCLUSIVE,
                    service.write(7).then(rollBack.asMono()));
            await().atMost(WAIT).until(() -> granted(key) == 1);

            rollBack.tryEmitError(new IllegalStateException("roll back"));
            await().atMost(WAIT).until(transaction::isDone);
            assertThat(transaction).isCompletedExceptionally();
            assertThat(granted(key)).isZero();
            assertThat(counter()).as("rolled back").isZero();
        });
    }

    @Test
    void cancellingTheTransactionReleasesTheLock() {
        reactiveService().run(context -> {
            Service service = new Service(context);
            LockKey key = service.key("report");
            Disposable transaction = service.transactions
                    .transactional(service.locks.lock("report", EXCLUSIVE, WAIT).then(Mono.never())).subscribe();
            await().atMost(WAIT).until(() -> granted(key) == 1);

            transaction.dispose();
            await().atMost(WAIT).until(() -> granted(key) == 0);
        });
    }

    /** The server's wait is not cancelled, but its grant dies with the transaction the cancel rolls back. */
    @Test
    void aWaitCancelledWhileAnotherHoldsLeavesNothingHeldOnceTheHolderLetsGo() {
        reactiveService().run(context -> {
            Service service = new Service(context);
            LockKey key = service.key("report");
            try (Connection jdbc = DB.connect()) {
                jdbc.setAutoCommit(false);
                assertThat(service.registry.transactionLock("report", EXCLUSIVE).tryAcquire(jdbc)).isTrue();
                Disposable waiter = service.transactions.transactional(service.locks.lock("report", EXCLUSIVE, WAIT))
                        .subscribe();
                await().atMost(WAIT).until(() -> waiting(key) == 1);

                waiter.dispose();
                jdbc.commit();
                await().atMost(WAIT).until(() -> waiting(key) == 0 && granted(key) == 0);
            }
        });
    }

    @Test
    void aTimedOutWaitLeavesTheTransactionUsableWithItsLockTimeoutAsItWas() {
        twoInstances(reactiveService(), (one, two) -> {
            Service holder = new Service(one);
            Service waiter = new Service(two);
            Sinks.Empty<Void> commit = Sinks.empty();
            CompletableFuture<Void> holding = holder.holdUntil("report", EXCLUSIVE, commit.asMono());
            await().atMost(WAIT).until(() -> granted(holder.key("report")) == 1);

            Mono<String> afterTimeout = waiter.database.sql("SET LOCAL lock_timeout = '7s'").then()
                    .then(waiter.locks.tryLock("report", EXCLUSIVE, Duration.ofMillis(200)))
                    .doOnNext(acquired -> assertThat(acquired).as("acquired").isFalse())
                    .then(waiter.write(42))
                    .then(waiter.lockTimeout());
            StepVerifier.create(waiter.transactions.transactional(afterTimeout)).expectNext("7s").expectComplete()
                    .verify(WAIT);
            assertThat(counter()).as("the waiter's write, committed").isEqualTo(42);

            commit.tryEmitEmpty();
            holding.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        });
    }

    @Test
    void lockFailsWithTimedOutWhenAnotherTransactionHoldsForTheWholeWait() {
        twoInstances(reactiveService(), (one, two) -> {
            Service holder = new Service(one);
            Service waiter = new Service(two);
            Sinks.Empty<Void> commit = Sinks.empty();
            CompletableFuture<Void> holding = holder.holdUntil("report", EXCLUSIVE, commit.asMono());
            await().atMost(WAIT).until(() -> granted(holder.key("report")) == 1);

            StepVerifier.create(waiter.transactions.transactional(
                            waiter.locks.lock("report", EXCLUSIVE, Duration.ofMillis(200))))
                    .expectErrorSatisfies(failure -> assertThat(failure).isInstanceOfSatisfying(
                            AcquireFailureException.class, refused -> assertThat(refused.reason())
                                    .isEqualTo(AcquireFailureException.Reason.TIMED_OUT)))
                    .verify(WAIT);
            StepVerifier.create(waiter.transactions.transactional(
                            waiter.locks.lock("report", EXCLUSIVE, Duration.ZERO)))
                    .expectErrorSatisfies(failure -> assertThat(failure).isInstanceOfSatisfying(
                            AcquireFailureException.class, refused -> assertThat(refused.reason())
                                    .isEqualTo(AcquireFailureException.Reason.CONTENDED)))
                    .verify(WAIT);

            commit.tryEmitEmpty();
            holding.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        });
    }

    @Test
    void aGrantedWaitLeavesTheTransactionsLockTimeoutAsItWas() {
        reactiveService().run(context -> {
            Service service = new Service(context);
            Mono<String> afterGrant = service.database.sql("SET LOCAL lock_timeout = '7s'").then()
                    .then(service.locks.lock("report", EXCLUSIVE, Duration.ofSeconds(5)))
                    .then(service.lockTimeout());
            StepVerifier.create(service.transactions.transactional(afterGrant)).expectNext("7s").expectComplete()
                    .verify(WAIT);
        });
    }

    @Test
    void outsideATransactionTheLockIsRefusedSayingWhatToDo() {
        reactiveService().run(context -> {
            Service service = new Service(context);
            StepVerifier.create(service.locks.lock("report", EXCLUSIVE, Duration.ZERO))
                    .expectErrorSatisfies(failure -> assertThat(failure).isInstanceOf(IllegalStateException.class)
                            .hasMessageContaining("needs an active reactive transaction")
                            .hasMessageContaining("TransactionalOperator"))
                    .verify(WAIT);
            assertThat(granted(service.key("report"))).isZero();
        });
    }

    @Test
    void aTransactionOfAnotherConnectionFactoryIsRefused() {
        reactiveService().run(context -> {
            Service service = new Service(context);
            TransactionalOperator elsewhere = TransactionalOperator.create(
                    new R2dbcTransactionManager(connectionFactory()));
            StepVerifier.create(elsewhere.transactional(service.locks.lock("report", EXCLUSIVE, Duration.ZERO)))
                    .expectErrorSatisfies(failure -> assertThat(failure).isInstanceOf(IllegalStateException.class)
                            .hasMessageContaining("does not use the service's ConnectionFactory"))
                    .verify(WAIT);
            assertThat(granted(service.key("report"))).isZero();
        });
    }

    @Test
    void aTransactionOnADatabaseOtherThanPostgresqlIsRefused() {
        reactiveService().run(context -> {
            ConnectionFactory h2 = ConnectionFactories.get("r2dbc:h2:mem:///" + namespace);
            ReactiveTransactionLocks locks = new ReactiveTransactionLocks(context.getBean(LockRegistry.class), h2);
            TransactionalOperator transactions = TransactionalOperator.create(new R2dbcTransactionManager(h2));
            StepVerifier.create(transactions.transactional(locks.lock("report", EXCLUSIVE, Duration.ZERO)))
                    .expectErrorSatisfies(failure -> assertThat(failure)
                            .isInstanceOf(UnsupportedLockServerException.class).hasMessageContaining("H2")
                            .hasMessageContaining("needs PostgreSQL"))
                    .verify(WAIT);
        });
    }

    @Test
    void aJdbcTransactionLockHolderMakesAnR2dbcWaiterWaitUntilItCommits() {
        reactiveService().run(context -> {
            Service service = new Service(context);
            LockKey key = service.key("report");
            try (Connection jdbc = DB.connect()) {
                jdbc.setAutoCommit(false);
                assertThat(service.registry.transactionLock("report", EXCLUSIVE).tryAcquire(jdbc)).isTrue();
                StepVerifier.create(service.transactions.transactional(
                        service.locks.tryLock("report", EXCLUSIVE, Duration.ZERO))).expectNext(false)
                        .expectComplete().verify(WAIT);

                CompletableFuture<Boolean> waiter = service.transactions.transactional(
                        service.locks.tryLock("report", EXCLUSIVE, WAIT)).toFuture();
                await().atMost(WAIT).until(() -> waiting(key) == 1);
                assertThat(waiter).isNotDone();

                jdbc.commit();
                assertThat(waiter.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            }
        });
    }

    @Test
    void anR2dbcHolderMakesAJdbcTransactionLockContend() {
        reactiveService().run(context -> {
            Service service = new Service(context);
            Sinks.Empty<Void> commit = Sinks.empty();
            CompletableFuture<Void> holding = service.holdUntil("report", EXCLUSIVE, commit.asMono());
            await().atMost(WAIT).until(() -> granted(service.key("report")) == 1);
            try (Connection jdbc = DB.connect()) {
                jdbc.setAutoCommit(false);
                assertThat(service.registry.transactionLock("report", EXCLUSIVE).tryAcquire(jdbc)).isFalse();
                jdbc.rollback();
            }
            commit.tryEmitEmpty();
            holding.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        });
    }

    @Test
    void sharedLocksAdmitEachOtherButNotAnExclusiveOne() {
        reactiveService().run(context -> {
            Service service = new Service(context);
            try (Connection jdbc = DB.connect()) {
                jdbc.setAutoCommit(false);
                assertThat(service.registry.transactionLock("report", LockOptions.shared()).tryAcquire(jdbc))
                        .isTrue();
                StepVerifier.create(service.transactions.transactional(
                        service.locks.tryLock("report", LockOptions.shared(), Duration.ofSeconds(5)))).expectNext(true)
                        .expectComplete().verify(WAIT);
                StepVerifier.create(service.transactions.transactional(
                        service.locks.tryLock("report", EXCLUSIVE, Duration.ofMillis(200)))).expectNext(false)
                        .expectComplete().verify(WAIT);
                jdbc.rollback();
            }
        });
    }
}
