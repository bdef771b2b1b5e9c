package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.pals.testing.TestDatabase;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;

/**
 * The server every contender runs against. The comparison's own JVM starts it ({@link TestDatabase}:
 * {@code PALS_TEST_JDBC_URL}, else Docker, else embedded) and hands its address to the JVMs that
 * JMH forks through system properties, so that all of them share one server.
 */
final class BenchmarkDatabase {

    static final String URL = "pals.bench.url";
    static final String USER = "pals.bench.user";
    static final String PASSWORD = "pals.bench.password";

    /**
     * On a server started here (an external one keeps its own): room for scenario 11's fleet, 200
     * registries of the default lock pool, each allowed 4 connections by the registry and one more by
     * the pool for the health check (1,000), and the harness's own observers and samplers.
     */
    static final String MAX_CONNECTIONS = "1100";
    /**
     * With {@link #MAX_CONNECTIONS}, a shared lock table of about 256 x 1,100 = 281,600 entries:
     * scenario 4's 100,000 locks held at once, twice over, with room for the fleet's.
     */
    static final String MAX_LOCKS_PER_TRANSACTION = "256";

    private static final String SHEDLOCK_TABLE = """
            CREATE TABLE IF NOT EXISTS shedlock (
                name VARCHAR(64) NOT NULL PRIMARY KEY,
                lock_until TIMESTAMP NOT NULL,
                locked_at TIMESTAMP NOT NULL,
                locked_by VARCHAR(255) NOT NULL)""";

    final String url;
    final String user;
    final String password;

    private BenchmarkDatabase(String url, String user, String password) {
        this.url = url;
        this.user = user;
        this.password = password;
    }

    /** In the comparison's JVM: starts (or finds) the server and creates the contenders' tables. */
    static BenchmarkDatabase start() {
        System.setProperty(TestDatabase.SERVER_SETTING_PREFIX + "max_locks_per_transaction", MAX_LOCKS_PER_TRANSACTION);
        System.setProperty(TestDatabase.SERVER_SETTING_PREFIX + "max_connections", MAX_CONNECTIONS);
        TestDatabase server = TestDatabase.get();
        BenchmarkDatabase database = new BenchmarkDatabase(server.url(), server.user(), server.password());
        database.createTables();
        return database;
    }

    /** In a JVM forked by JMH: the server the comparison named. */
    static BenchmarkDatabase fromSystemProperties() {
        String url = System.getProperty(URL);
        if (url == null) {
            throw new IllegalStateException("Run the benchmarks through dev.pals.benchmarks.Comparison (see CONTRIBUTING.md, "
                    + "section Running the benchmark), which starts the database and passes -D" + URL + " to each fork");
        }
        return new BenchmarkDatabase(url, System.getProperty(USER, "postgres"), System.getProperty(PASSWORD, ""));
    }

    /** The JVM arguments that let a fork find this server. */
    List<String> forkArguments() {
        return List.of("-D" + URL + "=" + url, "-D" + USER + "=" + user, "-D" + PASSWORD + "=" + password);
    }

    /** A direct connection tagged with {@code applicationName}, so that the sampler can count it. */
    Connection connect(String applicationName) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", user);
        properties.setProperty("password", password);
        properties.setProperty("ApplicationName", applicationName);
        return DriverManager.getConnection(url, properties);
    }

    /** A HikariCP pool whose connections carry {@code applicationName}; opens connections only on demand. */
    HikariDataSource pool(String applicationName, int maximumPoolSize) {
        return pool(url, applicationName, maximumPoolSize);
    }

    /** As {@link #pool(String, int)}, to the server at {@code jdbcUrl} (a relay in front of it). */
    HikariDataSource pool(String jdbcUrl, String applicationName, int maximumPoolSize) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(maximumPoolSize);
        config.setMinimumIdle(0);
        config.setPoolName(applicationName);
        config.addDataSourceProperty("ApplicationName", applicationName);
        return new HikariDataSource(config);
    }

    /** One value of {@code query}, from a direct connection. */
    String queryString(String query) {
        try (Connection connection = connect("pals-bench-observer");
                Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery(query)) {
            row.next();
            return row.getString(1);
        } catch (SQLException e) {
            throw new IllegalStateException("Could not run " + query + ": " + e.getMessage(), e);
        }
    }

    private void createTables() {
        try (Connection connection = connect("pals-bench-setup"); Statement statement = connection.createStatement()) {
            statement.execute(SHEDLOCK_TABLE);
            statement.execute("TRUNCATE shedlock");
            statement.execute("DROP TABLE IF EXISTS int_lock");
            statement.execute(springIntegrationLockTable());
        } catch (SQLException e) {
            throw new IllegalStateException("Could not create the ShedLock and Spring Integration tables: "
                    + e.getMessage(), e);
        }
    }

    /** The {@code INT_LOCK} statement of Spring Integration's own PostgreSQL schema, as its jar ships it. */
    private static String springIntegrationLockTable() {
        try (InputStream schema = BenchmarkDatabase.class
                .getResourceAsStream("/org/springframework/integration/jdbc/schema-postgresql.sql")) {
            if (schema == null) {
                throw new IllegalStateException("spring-integration-jdbc's schema-postgresql.sql is not on the class path");
            }
            String all = new String(schema.readAllBytes(), StandardCharsets.UTF_8);
            int start = all.indexOf("CREATE TABLE INT_LOCK");
            return all.substring(start, all.indexOf(';', start));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
