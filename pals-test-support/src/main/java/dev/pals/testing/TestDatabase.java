package dev.pals.testing;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;

/**
 * The PostgreSQL server that a test JVM shares across all its tests, started on first use.
 *
 * <p>The server is chosen in this order:
 * <ol>
 *   <li>the JDBC URL in the environment variable {@value #URL_VARIABLE} (with
 *       {@value #USER_VARIABLE} and {@value #PASSWORD_VARIABLE}), for a server you run yourself;
 *   <li>a Testcontainers PostgreSQL when a Docker engine answers;
 *   <li>an embedded PostgreSQL started from binaries published on Maven Central.
 * </ol>
 * Tests share the server, so each isolates itself: by a namespace of its own ({@link #uniqueName})
 * or, when it needs a clean slate, a database of its own ({@link #createDatabase}).
 */
public final class TestDatabase {

    /** Environment variable naming an external server's JDBC URL. */
    public static final String URL_VARIABLE = "PALS_TEST_JDBC_URL";
    /** Environment variable naming the external server's user (default {@code postgres}). */
    public static final String USER_VARIABLE = "PALS_TEST_JDBC_USER";
    /** Environment variable naming the external server's password (default empty). */
    public static final String PASSWORD_VARIABLE = "PALS_TEST_JDBC_PASSWORD";
    /**
     * Prefix of system properties that set server parameters of a server started here (embedded or
     * Testcontainers): {@code -Dpals.test.server.max_locks_per_transaction=256}. An external server
     * keeps its own configuration.
     */
    public static final String SERVER_SETTING_PREFIX = "pals.test.server.";

    /**
     * System property naming the PostgreSQL major the tests must run on: the Testcontainers image
     * it selects, and a check of whichever server is used (embedded servers take their version from
     * the binaries on the classpath).
     */
    public static final String MAJOR_PROPERTY = "pals.test.postgres.major";

    private static final ReentrantLock START = new ReentrantLock();
    private static @Nullable TestDatabase shared;

    private final String url;
    private final String user;
    private final String password;
    private final String kind;

    private TestDatabase(String url, String user, String password, String kind) {
        this.url = url;
        this.user = user;
        this.password = password;
        this.kind = kind;
    }

    /** Returns the shared server, starting it on first call. */
    public static TestDatabase get() {
        START.lock();
        try {
            if (shared == null) {
                shared = start();
            }
            return shared;
        } finally {
            START.unlock();
        }
    }

    private static TestDatabase start() {
        TestDatabase database = startServer();
        String major = System.getProperty(MAJOR_PROPERTY);
        if (major != null && !major.isBlank()) {
            database.requireMajor(Integer.parseInt(major.trim()));
        }
        return database;
    }

    /** Proves the suite runs on the PostgreSQL major it was asked for, so a version matrix cannot pass on another. */
    private void requireMajor(int major) {
        int actual;
        try (Connection connection = connect(); Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SELECT current_setting('server_version_num')::int / 10000")) {
            row.next();
            actual = row.getInt(1);
        } catch (SQLException e) {
            throw new IllegalStateException("Could not read the test server's version", e);
        }
        if (actual != major) {
            throw new IllegalStateException(MAJOR_PROPERTY + "=" + major + " asks for PostgreSQL " + major + ", but the "
                    + kind + " is PostgreSQL " + actual + "; unset " + URL_VARIABLE + " so that the tests start the "
                    + "version themselves, or put that version's embedded binaries on the test classpath");
        }
    }

    private static TestDatabase startServer() {
        String external = System.getenv(URL_VARIABLE);
        if (external != null && !external.isBlank()) {
            String user = System.getenv().getOrDefault(USER_VARIABLE, "postgres");
            String password = System.getenv().getOrDefault(PASSWORD_VARIABLE, "");
            return new TestDatabase(external, user, password, "external server from " + URL_VARIABLE);
        }
        if (dockerAvailable()) {
            List<String> command = new ArrayList<>(List.of("postgres"));
            serverSettings().forEach((name, value) -> command.addAll(List.of("-c", name + "=" + value)));
            String major = System.getProperty(MAJOR_PROPERTY, "17").trim();
            PostgreSQLContainer container = new PostgreSQLContainer("postgres:" + major + "-alpine")
                    .withCommand(command.toArray(String[]::new));
            container.start();
            Runtime.getRuntime().addShutdownHook(new Thread(container::stop, "pals-test-db-stop"));
            return new TestDatabase(container.getJdbcUrl(), container.getUsername(), container.getPassword(),
                    "Testcontainers " + container.getDockerImageName());
        }
        try {
            EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder();
            serverSettings().forEach(builder::setServerConfig);
            EmbeddedPostgres embedded = builder.start();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> closeQuietly(embedded), "pals-test-db-stop"));
            return new TestDatabase(embedded.getJdbcUrl("postgres", "postgres"), "postgres", "",
                    "embedded PostgreSQL on port " + embedded.getPort());
        } catch (IOException e) {
            throw new UncheckedIOException("Could not start the embedded PostgreSQL for the tests; set "
                    + URL_VARIABLE + " to use a server of your own", e);
        }
    }

    /** {@code max_connections=300} (tests open many pools), then any set by {@link #SERVER_SETTING_PREFIX}. */
    private static Map<String, String> serverSettings() {
        Map<String, String> settings = new TreeMap<>(Map.of("max_connections", "300"));
        System.getProperties().stringPropertyNames().stream()
                .filter(name -> name.startsWith(SERVER_SETTING_PREFIX))
                .forEach(name -> settings.put(name.substring(SERVER_SETTING_PREFIX.length()),
                        System.getProperty(name)));
        return settings;
    }

    private static boolean dockerAvailable() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    private static void closeQuietly(EmbeddedPostgres embedded) {
        try {
            embedded.close();
        } catch (IOException ignored) {
            // the JVM is exiting; the server's own shutdown is best effort
        }
    }

    /** The JDBC URL of the server's default database. */
    public String url() {
        return url;
    }

    /** The superuser the tests connect as. */
    public String user() {
        return user;
    }

    /** The password of {@link #user()}. */
    public String password() {
        return password;
    }

    /** Where the server comes from, for test logs. */
    public String kind() {
        return kind;
    }

    /** A direct connection outside any pool, as the tests' own observer of the server. */
    public Connection connect() throws SQLException {
        return DriverManager.getConnection(url, user, password);
    }

    /**
     * Ends the sessions whose {@code application_name} matches {@code applicationNameLike} (a LIKE
     * pattern), as an administrator or a crash would: their clients find their connections broken.
     */
    public void terminateSessions(String applicationNameLike) throws SQLException {
        try (Connection connection = connect(); PreparedStatement statement = connection.prepareStatement(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE ?")) {
            statement.setString(1, applicationNameLike);
            statement.execute();
        }
    }

    /**
     * Advisory locks on one key, granted or awaited, by any session: the key as {@code pg_locks}
     * shows it ({@code LockKey.classId()}, {@code objId()}, {@code objSubId()}).
     */
    public int advisoryLocks(long classId, long objId, int objSubId, boolean granted) throws SQLException {
        try (Connection connection = connect()) {
            return advisoryLocks(connection, classId, objId, objSubId, granted);
        }
    }

    /** As {@link #advisoryLocks(long, long, int, boolean)}, asked on {@code connection}: for a server of a test's own. */
    public static int advisoryLocks(Connection connection, long classId, long objId, int objSubId, boolean granted)
            throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = ? "
                        + "AND classid = ? AND objid = ? AND objsubid = ?")) {
            statement.setBoolean(1, granted);
            statement.setLong(2, classId);
            statement.setLong(3, objId);
            statement.setInt(4, objSubId);
            try (ResultSet rows = statement.executeQuery()) {
                rows.next();
                return rows.getInt(1);
            }
        }
    }

    /**
     * A column of {@code pg_stat_activity} ({@code application_name}, {@code usename}, ...) for the
     * session granted the advisory lock on one key, asked on {@code connection}; {@code null} if no
     * session holds it.
     */
    public static @Nullable String holderActivity(Connection connection, long classId, long objId, int objSubId,
            String column) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("SELECT a." + column + " FROM pg_locks l "
                + "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                + "AND l.classid = ? AND l.objid = ? AND l.objsubid = ?")) {
            statement.setLong(1, classId);
            statement.setLong(2, objId);
            statement.setInt(3, objSubId);
            try (ResultSet rows = statement.executeQuery()) {
                return rows.next() ? rows.getString(1) : null;
            }
        }
    }

    /** A small HikariCP pool on the default database. Close it when done. */
    public HikariDataSource dataSource(int maximumPoolSize) {
        return dataSource(url, maximumPoolSize);
    }

    /** A small HikariCP pool on the given JDBC URL. Close it when done. */
    public HikariDataSource dataSource(String jdbcUrl, int maximumPoolSize) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(maximumPoolSize);
        config.setMinimumIdle(0);
        config.setPoolName(uniqueName("pals-test-"));
        // lets a test find this pool's backends in pg_stat_activity
        config.addDataSourceProperty("ApplicationName", config.getPoolName());
        return new HikariDataSource(config);
    }

    /** Creates a fresh database and returns its JDBC URL, for tests that need a clean slate. */
    public String createDatabase() {
        String name = "pals_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
        try (Connection connection = connect(); Statement statement = connection.createStatement()) {
            statement.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("Could not create test database " + name, e);
        }
        return withDatabase(name);
    }

    private String withDatabase(String name) {
        int query = url.indexOf('?');
        String base = query < 0 ? url : url.substring(0, query);
        String params = query < 0 ? "" : url.substring(query);
        return base.substring(0, base.lastIndexOf('/') + 1) + name + params;
    }

    /** A name no other test uses, for namespaces and lock names. */
    public static String uniqueName(String prefix) {
        return prefix + UUID.randomUUID().toString().substring(0, 8);
    }
}
