package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.pals.testing.TestDatabase;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Servers that cannot give mutual exclusion are refused, without leaving anything behind. */
class UnsupportedServerTest {

    @TempDir
    Path tempDir;

    @Test
    void dataSourceThatIsNotPostgresqlIsRefused() {
        try (HikariDataSource h2 = pool("jdbc:h2:mem:" + TestDatabase.uniqueName("pals_"), "sa");
                LockRegistry registry = LockRegistry.builder(h2).namespace("refused").build()) {
            AdvisoryLock lock = registry.lock("x");

            assertThatThrownBy(lock::tryAcquire)
                    .isInstanceOf(UnsupportedLockServerException.class)
                    .hasMessageContaining("H2")
                    .hasMessageContaining("not PostgreSQL");

            assertNothingLeft(registry, lock, h2);
        }
    }

    @Test
    void standbyInRecoveryIsRefused() throws Exception {
        // standby.signal written before the server first starts: it comes up as a hot standby with no primary
        try (EmbeddedPostgres standby = EmbeddedPostgres.builder()
                        .setDataDirectory(tempDir.resolve("standby"))
                        .setDataDirectoryCustomizer(dir -> createStandbySignal(dir.toPath()))
                        .start();
                HikariDataSource pool = pool(standby.getJdbcUrl("postgres", "postgres"), "postgres");
                LockRegistry registry = LockRegistry.builder(pool).namespace("refused").build()) {
            assertThat(inRecovery(pool)).as("pg_is_in_recovery() on the standby").isTrue();
            AdvisoryLock lock = registry.lock("x");

            assertThatThrownBy(lock::tryAcquire)
                    .isInstanceOf(UnsupportedLockServerException.class)
                    .hasMessageContaining("standby")
                    .hasMessageContaining("recovery")
                    .hasMessageContaining("Connect to the primary");

            assertNothingLeft(registry, lock, pool);
            assertThat(queryInt(pool, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"))
                    .as("advisory locks on the standby").isZero();
        }
    }

    private static void assertNothingLeft(LockRegistry registry, AdvisoryLock lock, HikariDataSource pool) {
        assertThat(lock.isHeld()).isFalse();
        assertThat(registry.openConnections()).as("connections the registry kept").isZero();
        assertThat(pool.getHikariPoolMXBean().getActiveConnections()).as("connections not returned to the pool")
                .isZero();
        assertThatCode(registry::close).doesNotThrowAnyException();
    }

    private static HikariDataSource pool(String jdbcUrl, String user) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setUsername(user);
        config.setMaximumPoolSize(2);
        config.setMinimumIdle(0);
        return new HikariDataSource(config);
    }

    private static boolean inRecovery(HikariDataSource pool) throws Exception {
        return queryInt(pool, "SELECT pg_is_in_recovery()::int") == 1;
    }

    private static int queryInt(HikariDataSource pool, String sql) throws Exception {
        try (Connection connection = pool.getConnection();
                Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery(sql)) {
            row.next();
            return row.getInt(1);
        }
    }

    private static void createStandbySignal(Path dataDirectory) {
        try {
            Files.createFile(dataDirectory.resolve("standby.signal"));
        } catch (IOException e) {
            throw new IllegalStateException("Could not make " + dataDirectory + " a standby", e);
        }
    }
}
