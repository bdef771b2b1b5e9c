package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.testing.TcpRelay;
import dev.pals.testing.TestDatabase;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Waits that find no session of their own to wait on in the server (a registry of one connection,
 * which holds locks): they leave a marker and are woken by the release's notification, never by
 * polling, and leave nothing behind, marker included, however they end.
 */
class ReleaseWakeupsTest extends LockTestSupport {

    /** Well under the slow poll (1 s), so that only a notification can explain a hand-off this fast. */
    private static final Duration NOTIFIED = Duration.ofMillis(400);

    /** The busy registries' locks, for the test's lifetime. */
    private final List<AdvisoryLock> backgrounds = new ArrayList<>();

    /** A registry of one connection holding {@code held} locks: no wait can have a session of its own. */
    private LockRegistry busyRegistry(int held) {
        // a generous network timeout: a statement answered late on a loaded machine must not read as a lost session
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).maxConnections(1)
                .networkTimeout(Duration.ofSeconds(8)));
        for (int i = 0; i < held; i++) {
            AdvisoryLock background = registry.lock("background-" + i);
            assertThat(background.tryAcquire()).isTrue();
            // kept reachable: a handle collected while held is released, which would free the session
            backgrounds.add(background);
        }
        return registry;
    }

    private static int markers(LockKey key) throws Exception {
        LockKey marker = LockKey.of(ReleaseWakeups.marker(key));
        return DB.advisoryLocks(marker.classId(), marker.objId(), marker.objSubId(), true);
    }

    private static int flags() throws Exception {
        LockKey flag = LockKey.of(ReleaseWakeups.FLAG);
        return DB.advisoryLocks(flag.classId(), flag.objId(), flag.objSubId(), true);
    }

    /** {@code wanted} being acquired, waiting up to 30 s, on another thread that notes when it got it. */
    private static CompletableFuture<Boolean> acquiring(AdvisoryLock wanted, AtomicLong acquiredAt) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                boolean got = wanted.tryAcquire(Duration.ofSeconds(30));
                acquiredAt.set(System.nanoTime());
                return got;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static void awaitMarker(LockKey key) {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(2)).until(() -> markers(key) == 1);
    }

    @Test
    void waitWithNoFreeSessionIsWokenByAnotherRegistrysReleaseWithoutPolling() throws Exception {
        LockRegistry waiting = busyRegistry(50);
        LockRegistry holding = registry();
        AdvisoryLock held = holding.lock("contended");
        assertThat(held.tryAcquire()).isTrue();
        AdvisoryLock wanted = waiting.lock("contended");
        AtomicLong acquiredAt = new AtomicLong();
        CompletableFuture<Boolean> acquired = acquiring(wanted, acquiredAt);
        awaitMarker(wanted.key());
        assertThat(waitingOnServer(wanted.key())).as("not queued in the server: it has no session").isZero();

        long releasedAt = System.nanoTime();
        assertThat(held.release()).isTrue();

        assertThat(acquired.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(Duration.ofNanos(acquiredAt.get() - releasedAt)).isLessThan(NOTIFIED);
        await().atMost(Duration.ofSeconds(10)).until(() -> markers(wanted.key()) == 0);
        assertThat(wanted.release()).isTrue();
    }

    @Test
    void aWaitMarkedJustAfterItsRegistryTookTheFlagIsTriedAgainSoonAfterAReleaseThatSkippedItsMarker()
            throws Exception {
        LockRegistry waiting = busyRegistry(1);
        AdvisoryLock wanted = waiting.lock("flag-race");
        Connection connection = outsider();
        // as if its last unlock had read the flag free just before the waiting registry took it
        WaitFlag readFree = new WaitFlag();
        readFree.read(true, System.nanoTime() + TimeUnit.SECONDS.toNanos(60));
        Session holder = new Session(connection, backendPid(connection), 0, readFree);
        assertThat(holder.tryLock(wanted.key(), LockMode.EXCLUSIVE)).isTrue();
        AtomicLong acquiredAt = new AtomicLong();
        CompletableFuture<Boolean> acquired = acquiring(wanted, acquiredAt);
        awaitMarker(wanted.key());
        // the flag was taken before the marker, so the trust of a reading before it ends by then
        long trustEnds = System.nanoTime() + WaitFlag.TRUST_NANOS + TimeUnit.MILLISECONDS.toNanos(100);

        assertThat(holder.unlock(wanted.key(), LockMode.EXCLUSIVE)).as("released without a notification").isTrue();

        assertThat(acquired.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(Duration.ofNanos(acquiredAt.get() - trustEnds)).as("tried again as the trust ended, not at the "
                + "slow poll (1 s after the wait began)").isLessThan(Duration.ofMillis(350));
        assertThat(wanted.release()).isTrue();
    }

    @Test
    void releasesRightAsWaitsBeginAreNeverMissed() throws Exception {
        LockRegistry waiting = busyRegistry(1);
        LockRegistry holding = registry();
        AdvisoryLock held = holding.lock("racy");
        AdvisoryLock wanted = waiting.lock("racy");
        for (int round = 0; round < 15; round++) {
            assertThat(held.tryAcquire()).isTrue();
            CompletableFuture<Long> acquired = CompletableFuture.supplyAsync(() -> {
                try {
                    assertThat(wanted.tryAcquire(Duration.ofSeconds(30))).isTrue();
                    return System.nanoTime();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            // lands anywhere from before the waiter's first try to after its marker
            Thread.sleep(round % 5);
            long releasedAt = System.nanoTime();
            assertThat(held.release()).isTrue();
            long handOff = acquired.get(30, TimeUnit.SECONDS) - releasedAt;
            assertThat(Duration.ofNanos(handOff)).as("round %d", round).isLessThan(NOTIFIED);
            assertThat(wanted.release()).isTrue();
        }
    }

    @Test
    void releaseByAPlainSqlClientIsSeenWithinTheSlowPoll() throws Exception {
        LockRegistry waiting = busyRegistry(5);
        AdvisoryLock wanted = waiting.lock("foreign");
        Connection outsider = outsider();
        lockFrom(outsider, wanted.key());
        CompletableFuture<Boolean> acquired = wanted.acquireAsync(Duration.ofSeconds(30));
        awaitMarker(wanted.key());

        long releasedAt = System.nanoTime();
        unlockAll(outsider);

        assertThat(acquired.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - releasedAt))
                .isLessThan(Duration.ofNanos(ReleaseWakeups.SLOW_POLL_NANOS).plus(SLACK));
        assertThat(wanted.release()).isTrue();
    }

    @Test
    void interruptDuringANotificationWaitLeavesNothingHeldAndTakesTheMarkerBack() throws Exception {
        LockRegistry waiting = busyRegistry(3);
        AdvisoryLock wanted = waiting.lock("interrupted");
        Connection outsider = outsider();
        lockFrom(outsider, wanted.key());
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread waiter = new Thread(() -> {
            try {
                wanted.tryAcquire(Duration.ofSeconds(30));
            } catch (InterruptedException | RuntimeException e) {
                outcome.set(e);
            }
        });
        waiter.start();
        awaitMarker(wanted.key());

        waiter.interrupt();
        waiter.join(TimeUnit.SECONDS.toMillis(10));

        assertThat(waiter.isAlive()).isFalse();
        assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
        assertThat(markers(wanted.key())).isZero();
        unlockAll(outsider);
        assertThat(wanted.isHeld()).isFalse();
        assertThat(grantedOnServer(wanted.key())).isZero();
        assertThat(advisoryLocksOf(dataSource.getPoolName())).as("only the 3 background locks").isEqualTo(3);
        assertThat(flags()).as("the wait flag, while the marker session is open").isOne();
    }

    @Test
    void timeoutDuringANotificationWaitLeavesNothingHeldAndTakesTheMarkerBack() throws Exception {
        LockRegistry waiting = busyRegistry(3);
        AdvisoryLock wanted = waiting.lock("timed-out");
        Connection outsider = outsider();
        lockFrom(outsider, wanted.key());

        assertThat(wanted.tryAcquire(Duration.ofMillis(300))).isFalse();

        assertThat(markers(wanted.key())).isZero();
        unlockAll(outsider);
        assertThat(grantedOnServer(wanted.key())).isZero();
        assertThat(advisoryLocksOf(dataSource.getPoolName())).as("only the 3 background locks").isEqualTo(3);
        assertThat(flags()).as("the wait flag, while the marker session is open").isOne();
    }

    @Test
    void closeDuringANotificationWaitEndsItAndLeavesNothingHeld() throws Exception {
        LockRegistry waiting = busyRegistry(3);
        AdvisoryLock wanted = waiting.lock("closed");
        Connection outsider = outsider();
        lockFrom(outsider, wanted.key());
        // the caller's own thread, which close() does not interrupt as it does the registry's
        CompletableFuture<Boolean> acquired = new CompletableFuture<>();
        Thread waiter = new Thread(() -> {
            try {
                acquired.complete(wanted.tryAcquire(Duration.ofSeconds(60)));
            } catch (InterruptedException | RuntimeException e) {
                acquired.completeExceptionally(e);
            }
        });
        waiter.start();
        awaitMarker(wanted.key());

        waiting.close();
        long closedAt = System.nanoTime();

        assertThatThrownBy(() -> acquired.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(IllegalStateException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - closedAt)).as("woken by the close, not by the slow poll")
                .isLessThan(NOTIFIED);
        assertThat(markers(wanted.key())).isZero();
        assertThat(advisoryLocksOf(dataSource.getPoolName())).isZero();
    }

    @Test
    void manyWaitersOnDistinctKeysAreAllServedOnABoundedNumberOfConnections() throws Exception {
        int waiters = 200;
        LockRegistry waiting = busyRegistry(1);
        LockRegistry holding = registry();
        List<AdvisoryLock> held = new ArrayList<>();
        List<CompletableFuture<Boolean>> acquired = new ArrayList<>();
        for (int i = 0; i < waiters; i++) {
            AdvisoryLock lock = holding.lock("many-" + i);
            assertThat(lock.tryAcquire()).isTrue();
            held.add(lock);
        }
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < waiters; i++) {
            AdvisoryLock wanted = waiting.lock("many-" + i);
            CompletableFuture<Boolean> got = new CompletableFuture<>();
            acquired.add(got);
            Thread thread = new Thread(() -> {
                try {
                    got.complete(wanted.tryAcquire(Duration.ofSeconds(30)) && wanted.release());
                } catch (InterruptedException | RuntimeException e) {
                    got.completeExceptionally(e);
                }
            });
            threads.add(thread);
            thread.start();
        }
        for (AdvisoryLock lock : held) {
            awaitMarker(lock.key());
        }
        long releasedAt = System.nanoTime();
        held.forEach(AdvisoryLock::release);

        for (CompletableFuture<Boolean> got : acquired) {
            assertThat(got.get(30, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(Duration.ofNanos(System.nanoTime() - releasedAt))
                .as("all served well before the slow poll would have served them").isLessThan(Duration.ofSeconds(5));
        assertThat(observe("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?",
                dataSource.getPoolName()) - holding.openConnections())
                .as("the waiting registry's one connection, its listener and its marker session").isLessThanOrEqualTo(3);
    }

    @Test
    void manyConcurrentFirstWaitsOpenOneListenerAndOneMarkerSessionPerRegistry() throws Exception {
        int registries = 4;
        int waitersEach = 16;
        LockRegistry holding = registry();
        List<CompletableFuture<Boolean>> acquired = new ArrayList<>();
        List<AdvisoryLock> held = new ArrayList<>();
        CountDownLatch start = new CountDownLatch(1);
        for (int r = 0; r < registries; r++) {
            LockRegistry waiting = registry(LockRegistry.builder(dataSource).namespace(namespace).maxConnections(1)
                    .networkTimeout(Duration.ofSeconds(8)));
            AdvisoryLock background = waiting.lock("background-of-" + r);
            assertThat(background.tryAcquire()).isTrue();
            backgrounds.add(background);
            for (int i = 0; i < waitersEach; i++) {
                String name = "first-" + r + "-" + i;
                AdvisoryLock lock = holding.lock(name);
                assertThat(lock.tryAcquire()).isTrue();
                held.add(lock);
                AdvisoryLock wanted = waiting.lock(name);
                CompletableFuture<Boolean> got = new CompletableFuture<>();
                acquired.add(got);
                new Thread(() -> {
                    try {
                        start.await();
                        got.complete(wanted.tryAcquire(Duration.ofSeconds(30)) && wanted.release());
                    } catch (InterruptedException | RuntimeException e) {
                        got.completeExceptionally(e);
                    }
                }).start();
            }
        }
        start.countDown();
        for (AdvisoryLock lock : held) {
            awaitMarker(lock.key());
        }
        held.forEach(AdvisoryLock::release);
        for (CompletableFuture<Boolean> got : acquired) {
            assertThat(got.get(30, TimeUnit.SECONDS)).isTrue();
        }

        assertThat(observe("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?",
                dataSource.getPoolName()) - holding.openConnections())
                .as("per waiting registry: its one connection, its listener and its marker session")
                .isLessThanOrEqualTo(registries * 3L);
        backgrounds.forEach(AdvisoryLock::release);
    }

    @Test
    void waitInterruptedWhileLeavingItsMarkerLeavesNoWaiterBehind() throws Exception {
        ExecutorService workers = Executors.newCachedThreadPool();
        SessionPool pool = new SessionPool(dataSource, 1, Duration.ZERO,
                new Lease(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(20)), workers,
                (session, e) -> {
                });
        ReleaseWakeups wakeups = new ReleaseWakeups(pool, workers, Duration.ofSeconds(1));
        try {
            ReleaseWakeups.Wake first = wakeups.register(LockKey.of(1));
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                wakeups.mark(first);
                return wakeups.marked(first);
            });
            wakeups.unregister(first);

            Thread.currentThread().interrupt();
            assertThatThrownBy(() -> wakeups.register(LockKey.of(2))).isInstanceOf(InterruptedException.class);

            // with no waiter left, the idle sessions go back
            wakeups.housekeep(0);
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> dataSource.getHikariPoolMXBean().getActiveConnections() == 0);
        } finally {
            wakeups.close();
            workers.shutdownNow();
        }
    }

    @Test
    void housekeepingReturnsTheIdleSessionsWithoutWaitingOnASilentNetwork() throws Exception {
        ExecutorService workers = Executors.newCachedThreadPool();
        try (TcpRelay relay = TcpRelay.to(DB.url()); HikariDataSource relayed = DB.dataSource(relay.jdbcUrl(), 4)) {
            SessionPool pool = new SessionPool(relayed, 1, Duration.ZERO,
                    new Lease(Duration.ofSeconds(1), Duration.ofSeconds(3), Duration.ofSeconds(20)), workers,
                    (session, e) -> {
                    });
            ReleaseWakeups wakeups = new ReleaseWakeups(pool, workers, Duration.ofSeconds(1));
            ReleaseWakeups.Wake wake = wakeups.register(LockKey.of(1));
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                wakeups.mark(wake);
                return wakeups.marked(wake);
            });
            wakeups.unregister(wake);
            relay.blackHole();

            long started = System.nanoTime();
            wakeups.housekeep(0);

            // returning the marker session waits up to the network timeout (3 s), not the housekeeper
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(1));
            wakeups.close();
        } finally {
            workers.shutdownNow();
        }
    }

    @Test
    void aListenerConnectionGoneSilentIsReplacedSoWaitsAreNotifiedAgain() throws Exception {
        try (TcpRelay relay = TcpRelay.to(DB.url()); HikariDataSource relayed = DB.dataSource(relay.jdbcUrl(), 4)) {
            LockRegistry waiting = registry(LockRegistry.builder(relayed).namespace(namespace).maxConnections(1)
                    .lossCheckInterval(Duration.ofMillis(200)).networkTimeout(Duration.ofMillis(500)));
            AdvisoryLock background = waiting.lock("background");
            assertThat(background.tryAcquire()).isTrue();
            LockRegistry holding = registry();
            AdvisoryLock held = holding.lock("silent");
            assertThat(held.tryAcquire()).isTrue();
            AdvisoryLock wanted = waiting.lock("silent");
            AtomicLong acquiredAt = new AtomicLong();
            CompletableFuture<Boolean> acquired = CompletableFuture.supplyAsync(() -> {
                try {
                    boolean got = wanted.tryAcquire(Duration.ofSeconds(30));
                    acquiredAt.set(System.nanoTime());
                    return got && wanted.release();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            awaitMarker(wanted.key());
            LockKey marker = LockKey.of(ReleaseWakeups.marker(wanted.key()));
            // 0 while no session holds it, as between the failed marker session's end and the new one's marker
            String markerHolder = "SELECT coalesce(max(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    + "AND classid = ? AND objid = ? AND objsubid = ?";
            long markerPid = observe(markerHolder, marker.classId(), marker.objId(), marker.objSubId());
            // the listener: the one backend of the registry that holds no advisory lock
            long listenerPort = observe("SELECT client_port FROM pg_stat_activity WHERE application_name = ? AND pid "
                    + "NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')", relayed.getPoolName());

            assertThat(relay.blackHole((int) listenerPort)).isTrue();

            // the failed listener takes the marker session down with it; the waiter marks again on new ones
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                long holder = observe(markerHolder, marker.classId(), marker.objId(), marker.objSubId());
                return holder != 0 && holder != markerPid && markers(wanted.key()) == 1;
            });
            long releasedAt = System.nanoTime();
            assertThat(held.release()).isTrue();
            assertThat(acquired.get(30, TimeUnit.SECONDS)).isTrue();
            assertThat(Duration.ofNanos(acquiredAt.get() - releasedAt)).isLessThan(NOTIFIED);
            assertThat(background.release()).isTrue();
            waiting.close();
        }
    }

    @Test
    void anUnlockWhoseNotificationFailsInTheServerIsReleasedAndKeepsItsSession() throws Exception {
        String schema = TestDatabase.uniqueName("failing_notify_").replace('-', '_');
        Connection outsider = outsider();
        try (Statement statement = outsider.createStatement()) {
            statement.execute("CREATE SCHEMA " + schema);
            // ahead of pg_catalog on the registry's search_path: every notification fails as a full queue does
            statement.execute("CREATE FUNCTION " + schema + ".pg_notify(text, text) RETURNS void LANGUAGE plpgsql AS "
                    + "$$BEGIN RAISE EXCEPTION 'too many notifications in the NOTIFY queue' USING ERRCODE = '54000'; "
                    + "END$$");
        }
        String url = DB.url() + (DB.url().contains("?") ? "&" : "?") + "currentSchema=" + schema + ",pg_catalog";
        try (HikariDataSource failing = DB.dataSource(url, 4)) {
            LockRegistry registry = registry(LockRegistry.builder(failing).namespace(namespace).maxConnections(1));
            AdvisoryLock kept = registry.lock("kept");
            AdvisoryLock released = registry.lock("released");
            assertThat(kept.tryAcquire()).isTrue();
            assertThat(released.tryAcquire()).isTrue();
            // a waiter's marker, so that the unlock notifies
            lockFrom(outsider, LockKey.of(ReleaseWakeups.marker(released.key())));

            assertThat(released.release()).isTrue();

            assertThat(grantedOnServer(released.key())).isZero();
            assertThat(kept.isHeld()).isTrue();
            assertThat(grantedOnServer(kept.key())).as("the session was kept, with its other lock").isEqualTo(1);
            assertThat(kept.release()).isTrue();
            registry.close();
        } finally {
            unlockAll(outsider);
            try (Statement statement = outsider.createStatement()) {
                statement.execute("DROP SCHEMA " + schema + " CASCADE");
            }
        }
    }

    @Test
    void openConnectionsCountsTheSessionsThatWakeWaits() throws Exception {
        LockRegistry waiting = busyRegistry(1);
        AdvisoryLock wanted = waiting.lock("counted");
        Connection outsider = outsider();
        lockFrom(outsider, wanted.key());
        CompletableFuture<Boolean> acquired = wanted.acquireAsync(Duration.ofSeconds(30));
        awaitMarker(wanted.key());

        // the lock's session, the listener and the marker session, as the server sees them
        assertThat(waiting.openConnections()).isEqualTo(3);
        assertThat(observe("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", dataSource.getPoolName()))
                .isEqualTo(3);
        unlockAll(outsider);
        assertThat(acquired.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(wanted.release()).isTrue();
    }

    @Test
    void takingAMarkerBackNotifiesNobody() throws Exception {
        LockRegistry waiting = busyRegistry(1);
        AdvisoryLock wanted = waiting.lock("unmarked");
        LockKey marker = LockKey.of(ReleaseWakeups.marker(wanted.key()));
        Connection outsider = outsider();
        lockFrom(outsider, wanted.key());
        // as if someone waited for the marker itself: a waking unlock of the marker would notify
        lockFrom(outsider, LockKey.of(ReleaseWakeups.marker(marker)));
        try (Statement statement = outsider.createStatement()) {
            statement.execute("LISTEN " + ReleaseWakeups.CHANNEL);
        }

        assertThat(wanted.tryAcquire(Duration.ofMillis(300))).isFalse();

        assertThat(markers(wanted.key())).isZero();
        assertThat(PgJdbc.notifications(outsider, 500)).doesNotContain(Long.toString(marker.value()));
        unlockAll(outsider);
    }
}
