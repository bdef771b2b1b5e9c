package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A database restart loses the locks loudly, and the registry recovers by itself. */
class RestartTest {

    @TempDir
    Path dataDirectory;

    @Test
    void afterADatabaseRestartLocksAreReportedLostAndNewAcquisitionsSucceedAgain() throws Exception {
        EmbeddedPostgres server = start(0);
        int port = server.getPort();
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(server.getJdbcUrl("postgres", "postgres"));
        config.setUsername("postgres");
        config.setMaximumPoolSize(4);
        config.setConnectionTimeout(1000);
        config.setInitializationFailTimeout(-1);
        List<String> lost = new CopyOnWriteArrayList<>();
        try (HikariDataSource pool = new HikariDataSource(config);
                LockRegistry registry = LockRegistry.builder(pool).lossCheckInterval(Duration.ofMillis(200))
                        .lossListener((lock, cause) -> lost.add(lock.name())).build()) {
            AdvisoryLock held = registry.lock("held-across-restart");
            assertThat(held.tryAcquire()).isTrue();

            server.close();
            await().atMost(Duration.ofSeconds(30)).until(() -> !held.isHeld());
            assertThat(lost).containsExactly("held-across-restart");
            assertThatThrownBy(() -> registry.lock("during-downtime").tryAcquire())
                    .isInstanceOf(LockException.class).hasMessageContaining("nothing is held");

            server = start(port);
            AdvisoryLock later = registry.lock("after-restart");
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(later::tryAcquire);
            assertThat(held.tryAcquire()).isTrue();
            later.release();
            held.release();
        } finally {
            server.close();
        }
    }

    private EmbeddedPostgres start(int port) throws Exception {
        EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder().setDataDirectory(dataDirectory)
                .setCleanDataDirectory(false);
        if (port != 0) {
            builder.setPort(port);
        }
        return builder.start();
    }
}
