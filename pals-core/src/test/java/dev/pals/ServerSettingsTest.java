package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.pals.testing.TestDatabase;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Server settings and roles the engine must cope with, and say so when it cannot. */
class ServerSettingsTest extends LockTestSupport {

    @Test
    void serverStatementTimeoutShorterThanTheWaitIsNamedInTheError() throws Exception {
        try (HikariDataSource pool = pool(DB.url(), DB.user(), DB.password(), 4, "SET statement_timeout = 300")) {
            LockRegistry registry = registry(LockRegistry.builder(pool).namespace(namespace));
            AdvisoryLock lock = registry.lock("x");
            Connection holder = outsider();
            lockFrom(holder, lock.key());

            assertThatThrownBy(() -> lock.tryAcquire(Duration.ofSeconds(10))).isInstanceOf(LockException.class)
                    .hasMessageContaining("statement_timeout").hasMessageContaining("'x'");
            unlockAll(holder);
            assertThat(lock.isHeld()).isFalse();
            assertThat(grantedOnServer(lock.key())).isZero();
            registry.close();
        }
    }

    @Test
    void roleWithNothingButConnectTakesWaitsForAndReleasesLocks() throws Exception {
        String database = DB.createDatabase();
        String role = plainRole();
        try (Connection admin = DB.connect(); Statement statement = admin.createStatement()) {
            String name = database.substring(database.lastIndexOf('/') + 1).split("\\?")[0];
            statement.execute("REVOKE ALL ON DATABASE " + name + " FROM PUBLIC");
            statement.execute("GRANT CONNECT ON DATABASE " + name + " TO " + role);
        }
        try (HikariDataSource pool = rolePool(database, role, 4); HikariDataSource otherPool = rolePool(database, role, 4)) {
            LockRegistry registry = registry(LockRegistry.builder(pool).namespace(namespace));
            LockRegistry otherInstance = registry(LockRegistry.builder(otherPool).namespace(namespace));
            AdvisoryLock first = registry.lock("x");
            AdvisoryLock second = otherInstance.lock("x");
            AdvisoryLock reader = registry.lock("y", LockOptions.shared());

            assertThat(first.tryAcquire()).isTrue();
            assertThat(reader.tryAcquire()).isTrue();
            CompletableFuture<Boolean> waiting = second.acquireAsync(Duration.ofSeconds(30));
            awaitServerWaiter(second.key());
            assertThat(first.release()).isTrue();
            assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
            assertThat(grantedOnServer(second.key())).isEqualTo(1);
            assertThat(second.release()).isTrue();
            assertThat(reader.release()).isTrue();
            assertThat(grantedOnServer(second.key()) + grantedOnServer(reader.key())).isZero();
            otherInstance.close();
            registry.close();
        }
    }

    @Test
    void aConnectionWhoseUnlockAllFailsIsAbortedRatherThanReturnedHoldingItsLocks() throws Exception {
        String database = DB.createDatabase();
        String role = plainRole();
        // functions' privileges belong to their database: this one alone refuses the role's unlock-all
        try (Connection owner = DriverManager.getConnection(database, DB.user(), DB.password());
                Statement statement = owner.createStatement()) {
            statement.execute("REVOKE EXECUTE ON FUNCTION pg_advisory_unlock_all() FROM PUBLIC");
        }
        try (HikariDataSource pool = rolePool(database, role, 1)) {
            LockRegistry registry = LockRegistry.builder(pool).namespace(namespace).maxConnections(1).build();
            AdvisoryLock lock = registry.lock("x");
            assertThat(lock.tryAcquire()).isTrue();

            registry.close();

            // what the next user of the DataSource gets must hold nothing
            try (Connection next = pool.getConnection(); Statement statement = next.createStatement()) {
                assertThat(single(statement, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        + "AND pid = pg_backend_pid()")).isZero();
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> grantedOnServer(lock.key()) == 0);
        }
    }

    /** A new login role (password {@code plain}) with no privilege beyond PUBLIC's. */
    private static String plainRole() throws SQLException {
        String role = TestDatabase.uniqueName("plain_").replace('-', '_');
        try (Connection admin = DB.connect(); Statement statement = admin.createStatement()) {
            statement.execute("CREATE ROLE " + role + " LOGIN PASSWORD 'plain'");
        }
        return role;
    }

    /**
     * A pool on {@code database} as {@code role}, checked to connect as it: the test server's URLs
     * name its superuser, which would override the role.
     */
    private static HikariDataSource rolePool(String database, String role, int size) throws SQLException {
        HikariDataSource pool = pool(database.split("\\?")[0], role, "plain", size, null);
        try (Connection connection = pool.getConnection(); Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT current_user")) {
            rows.next();
            assertThat(rows.getString(1)).as("the pool connects as the role").isEqualTo(role);
        } catch (SQLException | AssertionError e) {
            pool.close();
            throw e;
        }
        return pool;
    }

    private static HikariDataSource pool(String url, String user, String password, int size, String initSql) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(size);
        config.setConnectionInitSql(initSql);
        return new HikariDataSource(config);
    }
}
