package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.testing.TestDatabase;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The lease under a real silent partition: a service on a test host of its own (a network
 * namespace) holds or waits for a lock on a server of this machine, then every packet between
 * them is dropped. The holder is told within its client bound, the server frees the lock within
 * the silent-client timeout, the holder is told first, and a waiter whose client vanished is never
 * granted. A server of its own, listening on the link: the shared one listens on loopback only.
 */
@EnabledOnOs(OS.LINUX)
class PartitionTest {

    private static final Duration SLACK = Duration.ofSeconds(4);
    private static final Duration CHILD_START = Duration.ofSeconds(60);
    private static final long LOSS_CHECK_MILLIS = 200;
    private static final long NETWORK_TIMEOUT_MILLIS = 500;
    private static final long SILENT_CLIENT_SECONDS = 4;

    private static NetworkLab lab;
    private static EmbeddedPostgres server;
    private static Path hba;

    @TempDir
    Path tempDir;

    private final List<ChildJvm> children = new ArrayList<>();
    private final String namespace = TestDatabase.uniqueName("partition-");

    @BeforeAll
    static void startLabAndServer() throws IOException {
        lab = NetworkLab.create();
        hba = Files.createTempFile("pals-partition-hba", ".conf");
        Files.writeString(hba, "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all " + lab.subnet
                + " trust\n");
        server = EmbeddedPostgres.builder()
                .setServerConfig("listen_addresses", "127.0.0.1," + lab.hostAddress)
                .setServerConfig("hba_file", hba.toString())
                .start();
    }

    @AfterAll
    static void stopLabAndServer() throws IOException {
        if (server != null) {
            server.close();
        }
        if (lab != null) {
            lab.close();
        }
        if (hba != null) {
            Files.deleteIfExists(hba);
        }
    }

    @AfterEach
    void stopChildrenAndHeal() throws InterruptedException {
        for (ChildJvm child : children) {
            child.kill();
        }
        lab.heal();
    }

    @Test
    void aPartitionedHolderIsToldBeforeTheServerFreesItsLockWhichItDoesWithinTheSilentClientTimeout()
            throws Exception {
        ChildJvm holder = start("job", "hold", LOSS_CHECK_MILLIS, NETWORK_TIMEOUT_MILLIS, SILENT_CLIENT_SECONDS);
        holder.expect(PartitionedProcess.HELD, CHILD_START);
        LockKey key = LockKey.of(namespace, "job");
        assertThat(granted(key)).isEqualTo(1);

        long partitionedAt = System.currentTimeMillis();
        lab.partition();

        long lostAt = Long.parseLong(holder.expectStartingWith(PartitionedProcess.LOST,
                Duration.ofMillis(LOSS_CHECK_MILLIS + NETWORK_TIMEOUT_MILLIS).plus(SLACK)).split(" ")[1]);
        long freedAt = awaitFreed(key, Duration.ofSeconds(SILENT_CLIENT_SECONDS).plus(SLACK));
        System.out.printf("partitioned holder: told after %d ms (bound %d ms), server freed after %d ms (bound %d ms)%n",
                lostAt - partitionedAt, LOSS_CHECK_MILLIS + NETWORK_TIMEOUT_MILLIS, freedAt - partitionedAt,
                SILENT_CLIENT_SECONDS * 1000);
        assertThat(lostAt).as("the holder is told before the server frees its lock").isLessThan(freedAt);
        assertThat(anotherInstanceTakes(key)).as("another instance takes the lock once freed").isTrue();
    }

    @Test
    void aWaiterWhoseClientVanishedLeavesTheQueueAndIsNeverGranted() throws Exception {
        LockKey key = LockKey.of(namespace, "job");
        try (Connection holder = server.getPostgresDatabase().getConnection()) {
            LockTestSupport.lockFrom(holder, key);
            ChildJvm waiter = start("job", "wait", LOSS_CHECK_MILLIS, NETWORK_TIMEOUT_MILLIS, SILENT_CLIENT_SECONDS);
            waiter.expect(PartitionedProcess.WAITING, CHILD_START);
            await().atMost(Duration.ofSeconds(30)).until(() -> waiting(key) == 1);

            lab.partition();

            // the server drops the waiter's session, which leaves the queue, while the lock is still held
            await().atMost(Duration.ofSeconds(SILENT_CLIENT_SECONDS).plus(SLACK)).until(() -> waiting(key) == 0);
            assertThat(granted(key)).isEqualTo(1);
            LockTestSupport.unlockAll(holder);
        }
        assertThat(granted(key)).as("nobody was granted the lock the vanished waiter waited for").isZero();
        assertThat(anotherInstanceTakes(key)).isTrue();
    }

    @Test
    void withTheDefaultsAPartitionedHolderIsToldWithinThreeSecondsAndItsLockFreedWithinThirty() throws Exception {
        ChildJvm holder = start("job", "hold", 0, 0, 0);
        holder.expect(PartitionedProcess.HELD, CHILD_START);
        LockKey key = LockKey.of(namespace, "job");

        long partitionedAt = System.currentTimeMillis();
        lab.partition();

        long lostAt = Long.parseLong(holder.expectStartingWith(PartitionedProcess.LOST, Duration.ofSeconds(3).plus(SLACK))
                .split(" ")[1]);
        long freedAt = awaitFreed(key, Duration.ofSeconds(30));
        System.out.printf("partitioned holder, defaults: told after %d ms, server freed after %d ms%n",
                lostAt - partitionedAt, freedAt - partitionedAt);
        assertThat(lostAt).isLessThan(freedAt);
        assertThat(lostAt - partitionedAt).as("told within the default loss detection").isLessThan(3000 + SLACK.toMillis());
        assertThat(freedAt - partitionedAt).as("freed within the default silent-client timeout")
                // the silence began at most one loss-check interval (1 s) after the last traffic, and a bit of slack
                .isGreaterThanOrEqualTo(18_000).isLessThan(30_000);
    }

    private ChildJvm start(String name, String mode, long lossCheckMillis, long networkTimeoutMillis,
            long silentClientSeconds) throws IOException {
        String url = "jdbc:postgresql://" + lab.hostAddress + ":" + server.getPort() + "/postgres";
        ChildJvm child = ChildJvm.start(NetworkLab.processBuilder(lab.onHost(ChildJvm.command(PartitionedProcess.class,
                url, namespace, name, mode, Long.toString(lossCheckMillis), Long.toString(networkTimeoutMillis),
                Long.toString(silentClientSeconds)))).redirectErrorStream(false),
                tempDir.resolve("child-" + children.size() + ".err"));
        children.add(child);
        return child;
    }

    /** Polls the server until nobody holds {@code key}; returns when, in wall-clock millis. */
    private long awaitFreed(LockKey key, Duration atMost) {
        await().atMost(atMost).pollInterval(Duration.ofMillis(50)).until(() -> granted(key) == 0);
        return System.currentTimeMillis();
    }

    private boolean anotherInstanceTakes(LockKey key) {
        PGSimpleDataSource dataSource = new PGSimpleDataSource();
        dataSource.setUrl(server.getJdbcUrl("postgres", "postgres"));
        try (LockRegistry registry = LockRegistry.builder(dataSource).build()) {
            AdvisoryLock lock = registry.lock(key.value());
            boolean taken = lock.tryAcquire();
            if (taken) {
                lock.release();
            }
            return taken;
        }
    }

    private int granted(LockKey key) throws SQLException {
        return locks(key, true);
    }

    private int waiting(LockKey key) throws SQLException {
        return locks(key, false);
    }

    private int locks(LockKey key, boolean granted) throws SQLException {
        try (Connection connection = server.getPostgresDatabase().getConnection()) {
            return TestDatabase.advisoryLocks(connection, key.classId(), key.objId(), key.objSubId(), granted);
        }
    }
}
