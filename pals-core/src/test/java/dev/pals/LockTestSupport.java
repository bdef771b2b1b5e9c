package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.testing.TestDatabase;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Each test gets its own namespace (so tests can share the server), a small pool, and the
 * registries it builds closed afterwards.
 */
abstract class LockTestSupport {

    static final TestDatabase DB = TestDatabase.get();

    /**
     * What a slow, shared machine may add to a documented bound. Tests of a bound configure small
     * intervals and allow the bound plus this, so that a tenfold slowdown of the behaviour fails.
     */
    static final Duration SLACK = Duration.ofMillis(1500);

    protected String namespace;
    protected HikariDataSource dataSource;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeEach
    void openPool() {
        namespace = TestDatabase.uniqueName("ns-");
        dataSource = DB.dataSource(20);
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        // the pool is still open, so its sessions live on: whatever they still held would show here
        assertThat(observe(ADVISORY_LOCKS_OF, dataSource.getPoolName()))
                .as("advisory locks, the wait flag included, left on the pool's connections after its registries "
                        + "closed").isZero();
        dataSource.close();
    }

    /** Advisory locks, held or asked for, of the backends of the pool named by the parameter. */
    private static final String ADVISORY_LOCKS_OF = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a "
            + "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND a.application_name = ?";

    /**
     * Leaves out the wait flag ({@link ReleaseWakeups#FLAG}), which a registry's marker session holds
     * while it is open, after the waits that needed it are over.
     */
    private static final String NOT_THE_WAIT_FLAG = " AND NOT (l.classid::bigint = " + LockKey.of(ReleaseWakeups.FLAG).classId()
            + " AND l.objid::bigint = " + LockKey.of(ReleaseWakeups.FLAG).objId() + ")";

    /** Advisory locks held by the backends of the pool named {@code poolName}, the wait flag aside. */
    static int advisoryLocksOf(String poolName) throws SQLException {
        return (int) observe(ADVISORY_LOCKS_OF + NOT_THE_WAIT_FLAG, poolName);
    }

    /** Backends of the pool named {@code poolName} that hold at least one advisory lock, the wait flag aside. */
    static int backendsHoldingLocks(String poolName) throws SQLException {
        return (int) observe("SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                + "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = ?" + NOT_THE_WAIT_FLAG,
                poolName);
    }

    /** The one number {@code sql} returns, asked by an observer outside every pool. */
    static long observe(String sql, Object... parameters) throws SQLException {
        try (Connection connection = DB.connect(); PreparedStatement statement = connection.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) {
                statement.setObject(i + 1, parameters[i]);
            }
            try (ResultSet rows = statement.executeQuery()) {
                rows.next();
                return rows.getLong(1);
            }
        }
    }

    /** The one number {@code sql} returns on {@code statement}'s connection. */
    static long single(Statement statement, String sql) throws SQLException {
        try (ResultSet rows = statement.executeQuery(sql)) {
            rows.next();
            return rows.getLong(1);
        }
    }

    LockRegistry registry() {
        return registry(LockRegistry.builder(dataSource).namespace(namespace));
    }

    LockRegistry registry(LockRegistry.Builder builder) {
        LockRegistry registry = builder.build();
        closeables.add(registry);
        return registry;
    }

    /** Advisory locks on {@code key} granted to any session, seen by an outside observer. */
    static int grantedOnServer(LockKey key) throws SQLException {
        return locksOnServer(key, true);
    }

    /** Sessions waiting in the server for {@code key}. */
    static int waitingOnServer(LockKey key) throws SQLException {
        return locksOnServer(key, false);
    }

    private static int locksOnServer(LockKey key, boolean granted) throws SQLException {
        return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), granted);
    }

    /** Until some session waits in the server for {@code key}: the proof that waiting is not polling. */
    static void awaitServerWaiter(LockKey key) {
        await().atMost(Duration.ofSeconds(30)).until(() -> waitingOnServer(key) > 0);
    }

    /** Tries every lock once, from eight threads at a time, and checks each try succeeded. */
    static void tryAcquireFromEightThreads(List<AdvisoryLock> locks) throws Exception {
        ExecutorService executor = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (AdvisoryLock lock : locks) {
                results.add(executor.submit(() -> lock.tryAcquire()));
            }
            for (Future<Boolean> result : results) {
                assertThat(result.get(60, TimeUnit.SECONDS)).isTrue();
            }
        } finally {
            executor.shutdownNow();
        }
    }

    /** Takes the session lock on a bigint {@code key} from a connection outside any registry. */
    static void lockFrom(Connection connection, LockKey key) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("SELECT pg_advisory_lock(?)")) {
            statement.setLong(1, key.value());
            statement.execute();
        }
    }

    static void unlockAll(Connection connection) {
        try (Statement statement = connection.createStatement()) {
            statement.execute("SELECT pg_advisory_unlock_all()");
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code connection}, telling {@code executed} the SQL of each prepared statement it executes. */
    static Connection recordingExecutions(Connection connection, Consumer<String> executed) {
        return (Connection) Proxy.newProxyInstance(LockTestSupport.class.getClassLoader(),
                new Class<?>[] {Connection.class}, (proxy, method, args) -> {
                    Object result = invoke(connection, method, args);
                    if (result instanceof PreparedStatement statement && method.getName().equals("prepareStatement")) {
                        String sql = (String) args[0];
                        return Proxy.newProxyInstance(LockTestSupport.class.getClassLoader(),
                                new Class<?>[] {PreparedStatement.class}, (p, m, a) -> {
                                    if (m.getName().startsWith("execute")) {
                                        executed.accept(sql);
                                    }
                                    return invoke(statement, m, a);
                                });
                    }
                    return result;
                });
    }

    /** Calls {@code method} on {@code target} for a JDBC proxy, rethrowing what it threw. */
    static Object invoke(Object target, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** The PostgreSQL backend of {@code connection}'s session. */
    static int backendPid(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            return (int) single(statement, "SELECT pg_backend_pid()");
        }
    }

    /** A connection outside any registry, to hold or contend for locks as another service would. */
    Connection outsider() throws SQLException {
        Connection connection = DB.connect();
        closeables.add(connection);
        return connection;
    }
}
