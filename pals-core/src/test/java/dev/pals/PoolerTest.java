package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real PgBouncer between the registry and the server: in transaction mode session locks cannot
 * work and the registry refuses it; in session mode it works. Runs where a {@code pgbouncer}
 * binary is installed ({@code .ci/run} installs Debian's).
 */
class PoolerTest extends LockTestSupport {

    @TempDir
    Path directory;

    private Process pgbouncer;

    @AfterEach
    void stopPgbouncer() {
        if (pgbouncer != null) {
            pgbouncer.destroyForcibly();
        }
    }

    @Test
    void pgbouncerInTransactionModeIsRefusedWithAMessageThatSaysWhy() throws Exception {
        try (HikariDataSource pool = throughPgbouncer("transaction")) {
            LockRegistry registry = registry(LockRegistry.builder(pool).namespace(namespace));

            assertThatThrownBy(() -> registry.lock("x").tryAcquire()).isInstanceOf(UnsupportedLockServerException.class)
                    .hasMessageContaining("pooler").hasMessageContaining("transaction mode")
                    .hasMessageContaining("session mode")
                    .hasMessageContaining("transaction-scoped locks do work through it");
            registry.close();
        }
    }

    @Test
    void pgbouncerInSessionModeWorks() throws Exception {
        try (HikariDataSource pool = throughPgbouncer("session")) {
            LockRegistry registry = registry(LockRegistry.builder(pool).namespace(namespace));
            AdvisoryLock lock = registry.lock("x");

            assertThat(lock.tryAcquire()).isTrue();
            assertThat(registry.lock("x").tryAcquire()).isFalse();
            assertThat(lock.release()).isTrue();
            registry.close();
        }
    }

    private HikariDataSource throughPgbouncer(String poolMode) throws Exception {
        Path binary = pgbouncerBinary().orElse(null);
        if (binary == null) {
            throw Infrastructure.missing("The pooler tests need PgBouncer (the Debian package pgbouncer; .ci/run installs it)");
        }
        URI server = URI.create(DB.url().substring("jdbc:".length()));
        int port = freePort();
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.writeString(directory.resolve("users.txt"), "\"" + DB.user() + "\" \"" + DB.password() + "\"\n");
        Files.writeString(directory.resolve("pgbouncer.ini"), String.join("\n",
                "[databases]",
                "* = host=" + server.getHost() + " port=" + server.getPort(),
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                "listen_port = " + port,
                "unix_socket_dir =",
                "auth_type = trust",
                "auth_file = " + directory.resolve("users.txt"),
                "pool_mode = " + poolMode,
                "default_pool_size = 4",
                ""));
        List<String> command = new ArrayList<>();
        if ("root".equals(System.getProperty("user.name"))) {
            // PgBouncer refuses to run as root
            command.addAll(List.of("runuser", "-u", "nobody", "--"));
        }
        command.add(binary.toString());
        command.add(directory.resolve("pgbouncer.ini").toString());
        pgbouncer = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(directory.resolve("pgbouncer.log").toFile()).start();
        await().atMost(Duration.ofSeconds(30)).until(() -> accepts(port));

        HikariConfig config = new HikariConfig();
        config.setJdbcUrl("jdbc:postgresql://127.0.0.1:" + port + server.getPath() + "?prepareThreshold=0");
        config.setUsername(DB.user());
        config.setPassword(DB.password());
        config.setMaximumPoolSize(4);
        return new HikariDataSource(config);
    }

    private static Optional<Path> pgbouncerBinary() {
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/usr/local/sbin";
        return Stream.of(path.split(":")).filter(dir -> !dir.isEmpty()).map(dir -> Path.of(dir, "pgbouncer"))
                .filter(Files::isExecutable).findFirst();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static boolean accepts(int port) {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
