package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.testing.TcpRelay;
import dev.pals.testing.TestDatabase;
import java.lang.ref.Reference;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The client's bounds when the network goes silent, through a {@link TcpRelay} that stops
 * forwarding without closing anything: no statement on a lock connection hangs a caller, a silent
 * connection's locks are reported lost within the loss detection, and one silent connection
 * delays nothing on the others. (The server's bound needs a real partition: {@link PartitionTest}.)
 */
class SilentNetworkTest {

    private static final TestDatabase DB = TestDatabase.get();
    /** Slack for a busy machine on top of each bound; the bounds, not this, are what is tested. */
    private static final Duration SLACK = Duration.ofSeconds(3);
    /**
     * Slack where the bound under test must be told apart from the default network timeout (2 s):
     * a bound of 0.5 or 0.7 s plus this stays under what the default would give.
     */
    private static final Duration TIGHT_SLACK = Duration.ofMillis(1200);
    private static final Duration CONNECTION_TIMEOUT = Duration.ofSeconds(1);

    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final Map<String, Long> lostAt = new ConcurrentHashMap<>();
    private TcpRelay relay;
    private HikariDataSource dataSource;
    private LockRegistry registry;
    private Connection outsider;

    @BeforeEach
    void relay() throws SQLException {
        relay = TcpRelay.to(DB.url());
        dataSource = DB.dataSource(relay.jdbcUrl(), 10);
        // opening a connection is bounded by the DataSource, not the registry: keep that bound short here
        dataSource.setConnectionTimeout(CONNECTION_TIMEOUT.toMillis());
        dataSource.setValidationTimeout(CONNECTION_TIMEOUT.toMillis() / 2);
        outsider = DB.connect();
    }

    @AfterEach
    void cleanUp() throws Exception {
        threads.shutdownNow();
        if (registry != null) {
            registry.close();
        }
        // the relay's end at the server closes, so the server ends the silent sessions and frees their locks
        relay.close();
        dataSource.close();
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(
                LockTestSupport.advisoryLocksOf(dataSource.getPoolName())).isZero());
        outsider.close();
    }

    private LockRegistry registry(Duration lossCheckInterval, Duration networkTimeout) {
        registry = LockRegistry.builder(dataSource).namespace(TestDatabase.uniqueName("silent-"))
                .lossCheckInterval(lossCheckInterval).networkTimeout(networkTimeout)
                .silentClientTimeout(Duration.ofHours(3))
                .lossListener((lock, cause) -> lostAt.put(lock.name(), System.nanoTime()))
                .build();
        return registry;
    }

    @Test
    void aHolderIsToldOfASilentConnectionWithinTheLossCheckIntervalPlusTheNetworkTimeout() {
        LockRegistry registry = registry(Duration.ofMillis(200), Duration.ofMillis(500));
        AdvisoryLock lock = registry.lock("job");
        assertThat(lock.tryAcquire()).isTrue();

        long silentAt = System.nanoTime();
        relay.blackHole();

        Duration bound = registry.leaseBounds().lossDetection();
        await().atMost(bound.plus(TIGHT_SLACK)).until(() -> lostAt.containsKey("job"));
        System.out.printf("silent connection reported lost after %d ms (bound %d ms)%n",
                (lostAt.get("job") - silentAt) / 1_000_000, bound.toMillis());
        assertThat(lock.isHeld()).isFalse();
        assertThatThrownBy(lock::release).isInstanceOf(LockLostException.class);
    }

    @Test
    void releaseOnASilentConnectionThrowsLockLostWithinTheNetworkTimeout() {
        // checks far apart: the release, not a check, meets the silence
        LockRegistry registry = registry(Duration.ofHours(1), Duration.ofMillis(500));
        AdvisoryLock lock = registry.lock("job");
        assertThat(lock.tryAcquire()).isTrue();
        relay.blackHole();

        long start = System.nanoTime();
        assertTimeoutPreemptively(Duration.ofMillis(500).plus(TIGHT_SLACK), () ->
                assertThatThrownBy(lock::release).isInstanceOf(LockLostException.class)
                        .hasMessageContaining("'job' was lost"));
        System.out.printf("release on a silent connection threw after %d ms%n", (System.nanoTime() - start) / 1_000_000);
        assertThat(lock.isHeld()).isFalse();
    }

    @Test
    void aTryOnASilentConnectionFailsWithinTheNetworkTimeoutAndHoldsNothing() {
        LockRegistry registry = registry(Duration.ofHours(1), Duration.ofMillis(500));
        AdvisoryLock first = registry.lock("first");
        assertThat(first.tryAcquire()).isTrue();
        relay.blackHole();

        AdvisoryLock second = registry.lock("second");
        // one try on the silent connection, then one on a new connection, which cannot be opened
        assertTimeoutPreemptively(Duration.ofMillis(500).plus(CONNECTION_TIMEOUT).plus(SLACK), () ->
                assertThatThrownBy(second::tryAcquire).isInstanceOf(LockException.class));
        assertThat(second.isHeld()).isFalse();
        assertThat(first.isHeld()).as("the first lock's connection was found silent too").isFalse();
    }

    @Test
    void oneSilentConnectionDelaysNoOtherConnectionsLossCheck() throws Exception {
        // a long network timeout: checks done one after another would take it before reaching the second
        LockRegistry registry = registry(Duration.ofMillis(200), Duration.ofSeconds(10));
        TwoSessions sessions = twoSessions(registry);
        relay.blackHole(clientPort(sessions.silentPid()));

        long terminatedAt = System.nanoTime();
        terminate(sessions.otherPid());

        await().atMost(Duration.ofMillis(200).plus(SLACK)).until(() -> lostAt.containsKey("other"));
        System.out.printf("terminated connection reported lost after %d ms beside a silent one%n",
                (lostAt.get("other") - terminatedAt) / 1_000_000);
        assertThat(sessions.silent().isHeld()).as("the silent one is not reported before its timeout").isTrue();
        await().atMost(Duration.ofSeconds(10).plus(Duration.ofMillis(200)).plus(SLACK))
                .until(() -> lostAt.containsKey("silent"));
        Reference.reachabilityFence(sessions);
    }

    @Test
    void oneSilentConnectionDelaysNoDelayedReleaseOnAnother() throws Exception {
        LockRegistry registry = registry(Duration.ofMillis(200), Duration.ofSeconds(10));
        TwoSessions sessions = twoSessions(registry);
        relay.blackHole(clientPort(sessions.silentPid()));

        // by the time it is due, a check of the silent connection (every 200 ms) is stuck waiting for an answer
        CompletableFuture<Boolean> released = sessions.other().releaseAfter(Duration.ofSeconds(1));

        assertThat(released).succeedsWithin(Duration.ofSeconds(1).plus(SLACK)).isEqualTo(true);
        assertThat(LockTestSupport.grantedOnServer(sessions.other().key())).isZero();
        Reference.reachabilityFence(sessions);
    }

    @Test
    void anInterruptedWaitWhoseFirstCancelOvertookItsStatementLeavesNothingQueued() throws Exception {
        LockRegistry registry = registry(Duration.ofHours(1), Duration.ofSeconds(2));
        TwoSessions sessions = twoSessions(registry);
        // an empty session for the next wait: the other's lock is given back
        sessions.other().release();
        AdvisoryLock contended = registry.lock("contended");
        LockTestSupport.lockFrom(outsider, contended.key());
        // the open connections get slow; a cancel request opens a new, fast one and overtakes the wait
        relay.delayOpenConnections(Duration.ofMillis(300));
        int waitPort = clientPort(sessions.otherPid());
        long sentBefore = relay.bytesFromClient(waitPort);

        Future<Boolean> waiter = threads.submit(() -> contended.tryAcquire(Duration.ofSeconds(60)));
        // the wait statement has left the client, and the delay keeps it from the server for a while
        await().atMost(Duration.ofSeconds(10)).until(() -> relay.bytesFromClient(waitPort) > sentBefore);
        waiter.cancel(true);

        // the wait reaches the server after the first cancel; a later one must end it, before the connection
        // would be aborted (2 s), long before the holder lets go: its session then clears itself and stays
        await().atMost(Duration.ofSeconds(2)).until(() -> waitEndedOn(sessions.otherPid()));
        assertThat(LockTestSupport.waitingOnServer(contended.key())).isZero();
        assertThat(LockTestSupport.grantedOnServer(contended.key())).as("only the outsider holds it").isEqualTo(1);
        assertThat(contended.isHeld()).isFalse();
        Reference.reachabilityFence(sessions);
    }

    @Test
    void anInterruptedTransactionWaitWhoseFirstCancelOvertookItsStatementReturnsTheCallersConnectionSoon()
            throws Exception {
        LockRegistry registry = registry(Duration.ofHours(1), Duration.ofSeconds(2));
        TransactionLock lock = registry.transactionLock("contended", LockMode.EXCLUSIVE);
        LockTestSupport.lockFrom(outsider, lock.key());
        try (Connection callers = java.sql.DriverManager.getConnection(relay.jdbcUrl(), DB.user(), DB.password())) {
            callers.setAutoCommit(false);
            int pid = callers.unwrap(org.postgresql.PGConnection.class).getBackendPID();
            int port = clientPort(pid);
            relay.delayOpenConnections(Duration.ofMillis(300));

            CompletableFuture<Void> returned = new CompletableFuture<>();
            Future<?> waiter = threads.submit(() -> {
                try {
                    return lock.tryAcquire(callers, Duration.ofSeconds(60));
                } finally {
                    returned.complete(null);
                }
            });
            // the statement before the wait reached the server; once its answer is back, the wait leaves the client
            await().atMost(Duration.ofSeconds(10)).until(() -> LockTestSupport.observe(
                    "SELECT count(*) FROM pg_stat_activity "
                    + "WHERE pid = ? AND query = 'SELECT current_setting(''lock_timeout'')'", pid) == 1);
            long sentBefore = relay.bytesFromClient(port);
            await().atMost(Duration.ofSeconds(10)).until(() -> relay.bytesFromClient(port) > sentBefore);
            waiter.cancel(true);

            // the caller's thread is held until the worker is done with its connection: that must be soon
            await().atMost(Duration.ofSeconds(2).plus(SLACK)).until(returned::isDone);
            await().atMost(SLACK).untilAsserted(() ->
                    assertThat(LockTestSupport.waitingOnServer(lock.key())).isZero());
            assertThat(LockTestSupport.grantedOnServer(lock.key())).as("only the outsider holds it").isEqualTo(1);
            callers.rollback();
        }
    }

    @Test
    void aLeaderWhoseConnectionGoesSilentIsRevokedWithinTheLossDetection() {
        LockRegistry registry = registry(Duration.ofMillis(200), Duration.ofMillis(500));
        List<String> told = new CopyOnWriteArrayList<>();
        try (LeaderElection election = LeaderElection.builder(registry, "leader").retryInterval(Duration.ofMillis(100))
                .listener(new LeadershipListener() {
                    @Override
                    public void granted(LeaderElection leading) {
                        told.add("granted");
                    }

                    @Override
                    public void revoked(LeaderElection leading, @Nullable LockLostException lost) {
                        told.add(lost == null ? "revoked" : "lost");
                    }
                }).start()) {
            await().atMost(Duration.ofSeconds(30)).until(election::isLeader);

            relay.blackHole();

            await().atMost(registry.leaseBounds().lossDetection().plus(SLACK)).until(() -> told.contains("lost"));
            assertThat(election.isLeader()).isFalse();
        }
    }

    /** Two held locks on two sessions of {@code registry}: "silent" on one, "other" on the other. */
    private TwoSessions twoSessions(LockRegistry registry) throws Exception {
        AdvisoryLock silent = registry.lock("silent");
        assertThat(silent.tryAcquire()).isTrue();
        // a wait needs a session holding nothing, so "other" is granted on a second one
        AdvisoryLock other = registry.lock("other");
        LockTestSupport.lockFrom(outsider, other.key());
        Future<Boolean> waiting = threads.submit(() -> other.tryAcquire(Duration.ofSeconds(30)));
        LockTestSupport.awaitServerWaiter(other.key());
        LockTestSupport.unlockAll(outsider);
        assertThat(waiting.get()).isTrue();
        TwoSessions sessions = new TwoSessions(silent, other, backendOf(registry, "silent"), backendOf(registry, "other"));
        assertThat(sessions.silentPid()).isNotEqualTo(sessions.otherPid());
        return sessions;
    }

    private record TwoSessions(AdvisoryLock silent, AdvisoryLock other, int silentPid, int otherPid) {
    }

    private static int backendOf(LockRegistry registry, String name) {
        return registry.activity().stream().filter(activity -> activity.lock().name().equals(name))
                .map(LockActivity::backendPid).findFirst().orElseThrow();
    }

    private int clientPort(int pid) throws SQLException {
        return (int) LockTestSupport.observe("SELECT client_port FROM pg_stat_activity WHERE pid = ?", pid);
    }

    private boolean waitEndedOn(int pid) throws SQLException {
        return LockTestSupport.observe("SELECT count(*) FROM pg_stat_activity WHERE pid = ? AND state = 'idle' "
                + "AND query = 'SELECT pg_advisory_unlock_all()'", pid) == 1;
    }

    private void terminate(int pid) throws SQLException {
        LockTestSupport.observe("SELECT CASE WHEN pg_terminate_backend(?) THEN 1 ELSE 0 END", pid);
    }
}
