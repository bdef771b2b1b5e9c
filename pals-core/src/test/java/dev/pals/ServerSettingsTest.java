package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.pals.testing.TestDatabase;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Server settings and roles the engine must cope with, and say so when it cannot. */
class ServerSettingsTest extends LockTestSupport {

    @Test
    void serverStatementTimeoutShorterThanTheWaitIsNamedInTheError() throws Exception {
        try (HikariDataSource pool = pool(DB.url(), DB.user(), DB.password(), "SET statement_timeout = 300")) {
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
        String role = TestDatabase.uniqueName("plain_").replace('-', '_');
        try (Connection admin = DB.connect(); Statement statement = admin.createStatement()) {
            statement.execute("CREATE ROLE " + role + " LOGIN PASSWORD 'plain'");
            String name = database.substring(database.lastIndexOf('/') + 1).split("\\?")[0];
            statement.execute("REVOKE ALL ON DATABASE " + name + " FROM PUBLIC");
            statement.execute("GRANT CONNECT ON DATABASE " + name + " TO " + role);
        }
        try (HikariDataSource pool = pool(database, role, "plain", null);
                HikariDataSource otherPool = pool(database, role, "plain", null)) {
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

    private static HikariDataSource pool(String url, String user, String password, String initSql) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(4);
        config.setConnectionInitSql(initSql);
        return new HikariDataSource(config);
    }
}
