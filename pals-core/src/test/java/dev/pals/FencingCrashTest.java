package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Tokens survive a crash of the server: on a server of its own, as a crash ends every session of
 * the server, which the shared one's other tests would see.
 */
class FencingCrashTest {

    @Test
    void tokensKeepGrowingAfterTheServerCrashesAndRecovers() throws Exception {
        // the embedded server turns synchronous_commit off for speed, when a crash loses the last commits
        // (the sequence, its latest tokens): tokens are durable only as commits are
        try (EmbeddedPostgres server = EmbeddedPostgres.builder().setServerConfig("synchronous_commit", "on").start();
                HikariDataSource pool = pool(server);
                LockRegistry registry = LockRegistry.builder(pool).fencingTokens(FencingTokens.CREATE)
                        .lossCheckInterval(Duration.ofMillis(200)).build()) {
            long last = 0;
            for (int i = 0; i < 5; i++) {
                try (HeldLock held = registry.lock("job").hold()) {
                    last = held.fencingToken();
                }
            }
            // a backend killed with SIGKILL makes the postmaster end every session and recover from the WAL,
            // which is what a crash of the server does to what it had in memory
            try (Connection victim = server.getPostgresDatabase().getConnection();
                    Statement statement = victim.createStatement();
                    ResultSet pid = statement.executeQuery("SELECT pg_backend_pid()")) {
                pid.next();
                ProcessHandle.of(pid.getInt(1)).orElseThrow().destroyForcibly();
            }
            AtomicLong after = new AtomicLong();
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
                try (HeldLock held = registry.lock("job").hold()) {
                    after.set(held.fencingToken());
                    return true;
                }
            });
            assertThat(after.get()).isGreaterThan(last);
        }
    }

    private static HikariDataSource pool(EmbeddedPostgres server) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(server.getJdbcUrl("postgres", "postgres"));
        config.setUsername("postgres");
        config.setMaximumPoolSize(4);
        config.setConnectionTimeout(1000);
        config.setInitializationFailTimeout(-1);
        return new HikariDataSource(config);
    }
}
