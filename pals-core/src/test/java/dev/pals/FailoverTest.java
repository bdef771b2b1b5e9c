package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A failover with a multi-host URL: the primary dies, a standby is promoted. Advisory locks live in
 * the primary's memory and are not replicated, so every lock is gone: its holders are told, and
 * new acquisitions succeed on the new primary as soon as it accepts them. The standby here has no
 * primary to replicate from; what matters is that it is in recovery until promoted.
 */
class FailoverTest {

    @TempDir
    Path tempDir;

    @Test
    void holdersAreToldAndNewLocksAreTakenOnThePromotedStandby() throws Exception {
        List<String> lost = new CopyOnWriteArrayList<>();
        try (EmbeddedPostgres primary = EmbeddedPostgres.builder().setDataDirectory(tempDir.resolve("primary"))
                        .start();
                EmbeddedPostgres standby = EmbeddedPostgres.builder().setDataDirectory(tempDir.resolve("standby"))
                        .setDataDirectoryCustomizer(dir -> standbySignal(dir.toPath())).start();
                HikariDataSource pool = pool("jdbc:postgresql://127.0.0.1:" + primary.getPort() + ",127.0.0.1:"
                        + standby.getPort() + "/postgres?targetServerType=primary");
                LockRegistry registry = LockRegistry.builder(pool).lossCheckInterval(Duration.ofMillis(200))
                        .lossListener((lock, cause) -> lost.add(lock.name())).build()) {
            AdvisoryLock job = registry.lock("job");
            assertThat(job.tryAcquire()).isTrue();

            primary.close();

            await().atMost(Duration.ofSeconds(10)).until(() -> lost.contains("job"));
            assertThat(job.isHeld()).isFalse();
            AdvisoryLock next = registry.lock("next");
            assertThatThrownBy(next::tryAcquire).as("no primary until the standby is promoted")
                    .isInstanceOf(LockException.class).hasMessageContaining("nothing is held");

            long promotedAt = System.nanoTime();
            promote(standby);

            // the first tries may still find no primary, which they say with a LockException
            await().atMost(Duration.ofSeconds(30)).ignoreException(LockException.class).until(next::tryAcquire);
            System.out.printf("first lock on the promoted standby %d ms after pg_promote()%n",
                    (System.nanoTime() - promotedAt) / 1_000_000);
            assertThat(next.isHeld()).isTrue();
            assertThat(job.tryAcquire()).as("the lost lock is free on the new primary: it was never replicated")
                    .isTrue();
            next.release();
            job.release();
        }
    }

    private static void promote(EmbeddedPostgres standby) throws Exception {
        try (Connection connection = standby.getPostgresDatabase().getConnection();
                Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SELECT pg_promote(true, 30)")) {
            row.next();
            assertThat(row.getBoolean(1)).as("pg_promote()").isTrue();
        }
    }

    private static HikariDataSource pool(String jdbcUrl) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setUsername("postgres");
        config.setMaximumPoolSize(4);
        config.setMinimumIdle(0);
        config.setConnectionTimeout(2000);
        return new HikariDataSource(config);
    }

    private static void standbySignal(Path dataDirectory) {
        try {
            Files.createFile(dataDirectory.resolve("standby.signal"));
        } catch (IOException e) {
            throw new IllegalStateException("Could not make " + dataDirectory + " a standby", e);
        }
    }
}
