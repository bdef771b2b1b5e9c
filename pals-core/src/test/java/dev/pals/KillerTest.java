package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A killer terminates connections every ~200 ms: locks may be lost, but never silently. */
class KillerTest extends LockTestSupport {

    private static final int THREADS = 6;
    private static final Duration RUN = Duration.ofSeconds(8);
    /** Long enough that a waiter enters while the holder whose connection was killed is still inside. */
    private static final int SECTION_MILLIS = 100;

    /** Which section each handle held, for the loss listener, which is given the handle. */
    private static final Map<AdvisoryLock, String> HOLDER_OF = Collections.synchronizedMap(new WeakHashMap<>());

    private final ExecutorService workers = Executors.newFixedThreadPool(THREADS);
    private final ScheduledExecutorService killer = Executors.newSingleThreadScheduledExecutor();
    private final AtomicInteger kills = new AtomicInteger();
    private String database;

    @BeforeEach
    void createTables() throws SQLException {
        database = DB.createDatabase();
        try (Connection connection = connect(); Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE counter (value bigint NOT NULL)");
            statement.execute("INSERT INTO counter VALUES (0)");
            statement.execute("CREATE TABLE ledger (holder text NOT NULL)");
            statement.execute("CREATE TABLE section (holder text NOT NULL, entered timestamptz NOT NULL, "
                    + "exited timestamptz NOT NULL)");
            statement.execute("CREATE TABLE loss (holder text NOT NULL)");
        }
    }

    @AfterEach
    void stop() {
        killer.shutdownNow();
        workers.shutdownNow();
    }

    @Test
    void transactionScopeLosesNoUpdateWhileItsConnectionsAreKilled() throws Exception {
        try (HikariDataSource work = DB.dataSource(database, THREADS + 2)) {
            LockRegistry registry = registry(LockRegistry.builder(work).namespace(namespace));
            TransactionLock lock = registry.transactionLock("counter", LockMode.EXCLUSIVE);
            startKilling(work.getPoolName(), ANY_CONNECTION);

            runUntilDone(worker -> {
                try (Connection connection = work.getConnection()) {
                    connection.setAutoCommit(false);
                    lock.hold(connection, Duration.ofSeconds(30));
                    try (Statement statement = connection.createStatement()) {
                        long value = single(statement, "SELECT value FROM counter");
                        statement.execute("UPDATE counter SET value = " + (value + 1));
                        statement.execute("INSERT INTO ledger VALUES ('" + worker + "')");
                    }
                    connection.commit();
                } catch (SQLException | LockException killed) {
                    // the transaction died with its connection, and its increment with it
                }
            });

            try (Connection connection = connect(); Statement statement = connection.createStatement()) {
                long committed = single(statement, "SELECT count(*) FROM ledger");
                assertThat(committed).isPositive();
                assertThat(single(statement, "SELECT value FROM counter")).isEqualTo(committed);
            }
            assertThat(kills.get()).isPositive();
            registry.close();
        }
    }

    @Test
    void sessionScopeSignalsTheLossOfEveryHolderWhoseSectionWasOverlapped() throws Exception {
        try (HikariDataSource lockPool = DB.dataSource(database, 8); HikariDataSource work = DB.dataSource(database, 8)) {
            LockRegistry registry = registry(LockRegistry.builder(lockPool).namespace(namespace)
                    .lossCheckInterval(Duration.ofMillis(100))
                    .lossListener((lock, cause) -> record(work, "INSERT INTO loss VALUES (?)", holderOf(lock))));
            startKilling(lockPool.getPoolName(), LOCK_HOLDER);
            AtomicInteger sections = new AtomicInteger();

            runUntilDone(worker -> {
                String holder = worker + "-" + sections.incrementAndGet();
                AdvisoryLock lock = registry.lock("section");
                try {
                    if (!lock.tryAcquire(Duration.ofSeconds(30))) {
                        return;
                    }
                    HOLDER_OF.put(lock, holder);
                    try (Connection connection = work.getConnection();
                            PreparedStatement statement = connection.prepareStatement("INSERT INTO section VALUES "
                                    + "(?, clock_timestamp(), clock_timestamp() + make_interval(secs => ?))")) {
                        statement.setString(1, holder);
                        statement.setDouble(2, SECTION_MILLIS / 1000.0);
                        statement.execute();
                        TimeUnit.MILLISECONDS.sleep(SECTION_MILLIS);
                    }
                    lock.release();
                } catch (LockException lost) {
                    // reported by the listener and by release
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });

            try (Connection connection = connect(); Statement statement = connection.createStatement()) {
                // the earlier of two overlapping sections must have had its loss signalled
                long silent = single(statement, "SELECT count(*) FROM section a JOIN section b "
                        + "ON a.holder <> b.holder AND b.entered > a.entered AND b.entered < a.exited "
                        + "WHERE NOT EXISTS (SELECT 1 FROM loss WHERE loss.holder = a.holder)");
                long overlaps = single(statement, "SELECT count(*) FROM section a JOIN section b "
                        + "ON a.holder <> b.holder AND b.entered > a.entered AND b.entered < a.exited");
                assertThat(overlaps).as("the killer made holders overlap: the run tested something").isPositive();
                assertThat(silent).as("overlaps without a signalled loss (of %d overlaps)", overlaps).isZero();
            }
            assertThat(kills.get()).isPositive();
            registry.close();
        }
    }

    private static String holderOf(AdvisoryLock lock) {
        return HOLDER_OF.getOrDefault(lock, "unknown");
    }

    private static final String ANY_CONNECTION = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            + "WHERE application_name = ? ORDER BY random() LIMIT 1";
    private static final String LOCK_HOLDER = "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
            + "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            + "AND a.application_name = ? LIMIT 1";

    /** Every 200 ms, terminates one backend of the pool that {@code victim} picks. */
    private void startKilling(String poolName, String victim) {
        killer.scheduleWithFixedDelay(() -> {
            try (Connection connection = connect(); PreparedStatement statement = connection.prepareStatement(victim)) {
                statement.setString(1, poolName);
                try (ResultSet rows = statement.executeQuery()) {
                    if (rows.next() && rows.getBoolean(1)) {
                        kills.incrementAndGet();
                    }
                }
            } catch (SQLException e) {
                // the next round tries again
            }
        }, 200, 200, TimeUnit.MILLISECONDS);
    }

    /** Runs {@code step} in a loop on every worker until the run time is over. */
    private void runUntilDone(Step step) throws Exception {
        long deadline = System.nanoTime() + RUN.toNanos();
        List<Future<?>> running = new ArrayList<>();
        for (int w = 0; w < THREADS; w++) {
            String worker = "w" + w;
            running.add(workers.submit(() -> {
                while (System.nanoTime() < deadline) {
                    step.run(worker);
                }
                return null;
            }));
        }
        for (Future<?> done : running) {
            done.get(90, TimeUnit.SECONDS);
        }
        killer.shutdownNow();
    }

    @FunctionalInterface
    private interface Step {
        void run(String worker) throws Exception;
    }

    private static void record(HikariDataSource pool, String sql, String value) {
        try (Connection connection = pool.getConnection(); PreparedStatement statement = connection.prepareStatement(sql)) {
            statement.setString(1, value);
            statement.execute();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private Connection connect() throws SQLException {
        return DriverManager.getConnection(database, DB.user(), DB.password());
    }

}
