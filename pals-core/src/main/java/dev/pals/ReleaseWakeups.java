package dev.pals;

import java.lang.System.Logger.Level;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * Wake-ups for the waits that find no session of their own to wait on in the server (every
 * session holds locks, or as many wait as may): instead of polling, such a waiter leaves a
 * <em>marker</em> in the server, a shared advisory lock on {@link #marker} of its key, held on a
 * registry-owned marker session, and then tries its lock once more, which closes the race with a
 * release that came before the marker. Every unlock of this library checks, in its own statement,
 * whether a marker is taken for the key it frees ({@code pg_try_advisory_xact_lock} on it fails)
 * and only then sends {@code pg_notify} on {@link #CHANNEL} with the key; a listener session of
 * the registry receives it and wakes the waiter, which tries again. Nobody waiting costs an
 * unlock no notify and no commit lock. Releases by other clients (plain SQL, PALs in Python, a
 * session that died) send nothing: waiters also try again every {@link #SLOW_POLL_NANOS}.
 *
 * <p>Before its first marker, the marker session takes the <em>wait flag</em> ({@link #FLAG},
 * shared), and holds it while it is open: while no registry of the database holds it, nobody can
 * have left a marker, and unlocks skip the check for a while after reading it free
 * ({@link WaitFlag}), so that a service whose waits all find a connection of their own pays only
 * the plain unlock. A wait whose last try went out within that while of taking the flag tries
 * again once it is over ({@link #await}), as an unlock that read the flag free just before may
 * skip its marker.
 *
 * <p>The two sessions are opened in the background on the first such wait, outside the pool's
 * count, so that a registry uses at most {@code maxConnections + 2} connections of its DataSource
 * (a DataSource of fewer only delays them: waits poll until they are open), and closed with the
 * registry, or once no wait has needed them for the idle timeout. Both are sent a {@code SELECT 1}
 * every loss-check interval, so that a silent network fails them too. If either fails, its markers
 * are gone with it: waiters are woken, poll, and a later wait opens them again. Without PgJDBC (no
 * {@code getNotifications}) waits poll as before.
 */
final class ReleaseWakeups {

    private static final System.Logger LOG = System.getLogger(ReleaseWakeups.class.getName());

    /** The notification channel of every registry of a database; the payload is the key freed. */
    static final String CHANNEL = "pals_release";
    /** How often a marked waiter tries again without a notification, for releases by other clients. */
    static final long SLOW_POLL_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** Mixed into marker keys: the 8 bytes of "PALSWAIT". */
    private static final long MARKER_SALT = 0x50414C5357414954L;
    /** Mixed into the wait flag's key: the 8 bytes of "PALSFLAG". */
    private static final long FLAG_SEED = 0x50414C53464C4147L;
    /** The wait flag: held shared by every open marker session, tried by unlocks ({@link WaitFlag}). */
    static final long FLAG = marker(LockKey.of(FLAG_SEED));
    /**
     * Beyond {@link WaitFlag#TRUST_NANOS}: how late an unlock sent within that time may reach the
     * server, for the waits that tried just after the flag was taken; a later one is seen by the slow
     * poll.
     */
    private static final long FLAG_MARGIN_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /** How long the marker session tries to take the flag, which an unlock's check holds for an instant. */
    private static final long FLAG_PATIENCE_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** After the sessions could not be opened, how long waits poll before they are tried again. */
    private static final long RETRY_OPEN_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final SessionPool pool;
    /**
     * The loss-check interval: a silent network answers no read of notifications, so both sessions
     * are sent a {@code SELECT 1} this often, bounded by the network timeout.
     */
    private final long checkNanos;
    /** Runs the listener's loop and every ending of a channel, which may block on the network. */
    private final Executor workers;
    /** The listener and marker sessions out of the DataSource now: counted once opened, until ended. */
    private final AtomicInteger sessionsOut = new AtomicInteger();
    /** Whether a thread is opening the sessions now. */
    private final AtomicBoolean starting = new AtomicBoolean();
    private final AtomicReference<@Nullable Channel> channel = new AtomicReference<>();
    /** Waiters by the key they wait for; the listener wakes them. */
    private final Map<Long, Set<Wake>> waiters = new ConcurrentHashMap<>();
    private volatile boolean closed;
    /** PgJDBC is not the driver: notifications cannot be read, and waits poll. */
    private volatile boolean unsupported;
    /** In nanoTime: no new attempt to open the sessions before then; nanoTime may be negative, so not 0. */
    private volatile long openAgainAt = System.nanoTime();
    /** In nanoTime: when a waiter last left. */
    private volatile long lastUsed = System.nanoTime();

    ReleaseWakeups(SessionPool pool, Executor workers, Duration checkInterval) {
        this.pool = pool;
        this.workers = workers;
        this.checkNanos = checkInterval.toNanos();
    }

    /**
     * The marker key of {@code key}: a bigint derived from it by a 64-bit mix, so that it falls
     * among the keys users' names hash to no more often than two names collide (the key derivation
     * accepts those odds already). Two keys sharing a marker only cost a needless notification.
     */
    static long marker(LockKey key) {
        long z = key.value() ^ MARKER_SALT;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The listener and marker sessions while they work; replaced, never repaired, after a failure. */
    private static final class Channel {
        final Session listener;
        final Session markers;
        /**
         * In nanoTime: until then, an unlock that read the wait flag free before the marker session
         * took it may skip the check of a marker; waits on this channel whose last try went out
         * before then try again then.
         */
        final long flagTrustedUntil;
        final AtomicBoolean ended = new AtomicBoolean();
        /** Whether the marker session's check runs now. */
        final AtomicBoolean checking = new AtomicBoolean();

        Channel(Session listener, Session markers, long flaggedAt) {
            this.listener = listener;
            this.markers = markers;
            this.flagTrustedUntil = flaggedAt + WaitFlag.TRUST_NANOS + FLAG_MARGIN_NANOS;
        }
    }

    /** One waiter, from {@link #register} until {@link #unregister}. */
    static final class Wake {
        final LockKey key;
        private final Thread waiter = Thread.currentThread();
        private volatile boolean notified;
        /** The channel holding this waiter's marker, or null while it has none. */
        private volatile @Nullable Channel markedOn;

        private Wake(LockKey key) {
            this.key = key;
        }

        /** Forgets earlier notifications; called just before the try that the next wake-up repeats. */
        void clear() {
            notified = false;
        }

        private void wake() {
            notified = true;
            LockSupport.unpark(waiter);
        }
    }

    /**
     * Registers the calling thread as waiting for {@code key} and leaves its marker, if the sessions
     * can be had; the caller tries its lock next, then {@link #await}s, and calls
     * {@link #unregister} when done, whatever happens.
     */
    Wake register(LockKey key) throws InterruptedException {
        Wake wake = new Wake(key);
        waiters.compute(key.value(), (k, set) -> {
            Set<Wake> all = set == null ? ConcurrentHashMap.newKeySet() : set;
            all.add(wake);
            return all;
        });
        try {
            mark(wake);
        } catch (InterruptedException | RuntimeException | Error e) {
            // the caller gets no wake to unregister: a waiter left here would keep both sessions open for good
            unregister(wake);
            throw e;
        }
        return wake;
    }

    /**
     * Leaves the marker of a waiter that has none (one round trip, shared with other markers left
     * meanwhile). It stays unmarked if the sessions cannot be had, or if an unlock checks the
     * marker at this very moment (its check holds the marker key exclusively for one statement).
     */
    void mark(Wake wake) throws InterruptedException {
        if (marked(wake)) {
            return;
        }
        Channel open = open();
        if (open == null) {
            return;
        }
        try {
            if (open.markers.tryLock(LockKey.of(marker(wake.key)), LockMode.SHARED)) {
                wake.markedOn = open;
                if (channel.get() != open) {
                    // the channel failed meanwhile: its markers are gone with its session
                    wake.markedOn = null;
                }
            }
        } catch (SQLException e) {
            // a full lock table says nothing of the session: the waiter polls, and both sessions stay
            if (!SqlErrors.is(e, SqlErrors.OUT_OF_MEMORY)) {
                down(open, e);
            }
        }
    }

    /** Whether {@code wake}'s marker is in the server: left on the channel that still works. */
    boolean marked(Wake wake) {
        Channel markedOn = wake.markedOn;
        return markedOn != null && markedOn == channel.get();
    }

    /**
     * Waits up to {@code nanos} for a notification of {@code wake}'s key (since its last
     * {@link Wake#clear}), or for the registry's close. If the caller's last try was sent at
     * {@code triedAt} (nanoTime) within the while after its channel took the wait flag, in which
     * an unlock may skip its marker, the wait ends no later than that while, at once if it is
     * already over, so that the caller tries again after it.
     *
     * @throws InterruptedException if interrupted meanwhile
     */
    void await(Wake wake, long nanos, long triedAt) throws InterruptedException {
        long end = System.nanoTime() + nanos;
        Channel markedOn = wake.markedOn;
        if (markedOn != null && triedAt - markedOn.flagTrustedUntil < 0 && markedOn.flagTrustedUntil - end < 0) {
            end = markedOn.flagTrustedUntil;
        }
        while (!wake.notified && !closed) {
            long left = end - System.nanoTime();
            if (left <= 0) {
                return;
            }
            LockSupport.parkNanos(this, left);
            if (Thread.interrupted()) {
                throw new InterruptedException("Interrupted while waiting for a lock to be released");
            }
        }
    }

    /**
     * Takes the waiter's marker back (one round trip, shared with the markers taken back meanwhile,
     * whatever the interrupt status) and forgets it.
     */
    void unregister(Wake wake) {
        lastUsed = System.nanoTime();
        waiters.computeIfPresent(wake.key.value(), (k, set) -> {
            set.remove(wake);
            return set.isEmpty() ? null : set;
        });
        Channel markedOn = wake.markedOn;
        wake.markedOn = null;
        if (markedOn == null || channel.get() != markedOn) {
            return;
        }
        try {
            markedOn.markers.unlock(LockKey.of(marker(wake.key)), LockMode.SHARED);
        } catch (SQLException e) {
            down(markedOn, e);
        }
    }

    /**
     * Gives both sessions back once no wait has needed them for {@code idleNanos}, as the pool gives
     * back its idle sessions; a later wait opens them again.
     */
    void housekeep(long idleNanos) {
        Channel open = channel.get();
        if (open == null) {
            return;
        }
        if (!waiters.isEmpty() || System.nanoTime() - lastUsed < idleNanos) {
            if (open.checking.compareAndSet(false, true)) {
                inBackground(() -> check(open));
            }
        } else if (channel.compareAndSet(open, null)) {
            // not on the housekeeper's thread: returning the marker session may wait on a silent network
            inBackground(() -> {
                end(open);
                // a waiter that came meanwhile lost its marker with the session: it leaves one again now
                wakeAll();
            });
        }
    }

    /** Checks the marker session, whose failure would leave every marked wait polling. */
    private void check(Channel open) {
        Exception failure = null;
        open.markers.io.lock();
        try {
            open.markers.ping();
        } catch (SQLException | RuntimeException e) {
            failure = e;
        } finally {
            open.markers.releaseIo();
            open.checking.set(false);
        }
        if (failure != null) {
            // with io let go: ending the channel retires the marker session, which takes io
            down(open, failure);
        }
    }

    private void inBackground(Runnable task) {
        try {
            workers.execute(task);
        } catch (RejectedExecutionException closing) {
            task.run();
        }
    }

    /** The listener and marker sessions out of the DataSource now: 0, 1 while opening, or 2. */
    int sessionsOut() {
        return sessionsOut.get();
    }

    /** Ends both sessions and wakes every waiter, for a registry being closed. */
    void close() {
        closed = true;
        Channel open = channel.getAndSet(null);
        if (open != null) {
            end(open);
        }
        wakeAll();
    }

    /**
     * The working channel, or null while there is none; the first call without one starts opening
     * it in the background, as the DataSource may make a caller wait for a connection (its own
     * timeout, often 30 s) and waits poll meanwhile.
     */
    private @Nullable Channel open() {
        Channel open = channel.get();
        if (open != null || closed || unsupported || System.nanoTime() - openAgainAt < 0
                || !starting.compareAndSet(false, true)) {
            return open;
        }
        try {
            workers.execute(this::startAndListen);
        } catch (RejectedExecutionException closing) {
            starting.set(false);
        }
        return null;
    }

    /**
     * Opens the listener and the marker sessions, listener first so that no notification is
     * missed, then wakes the polling waiters, which leave their markers, and listens.
     */
    private void startAndListen() {
        Session listener = null;
        Session markers = null;
        Channel open;
        try {
            listener = pool.openOutside();
            sessionsOut.incrementAndGet();
            if (!PgJdbc.canReadNotifications(listener.connection)) {
                unsupported = true;
                SessionOpener.closeQuietly(listener.connection);
                sessionsOut.decrementAndGet();
                return;
            }
            try (Statement statement = listener.connection.createStatement()) {
                statement.execute("LISTEN " + CHANNEL);
            }
            markers = pool.openOutside();
            sessionsOut.incrementAndGet();
            open = new Channel(listener, markers, takeFlag(markers));
            // published before starting is cleared, so that no second opening can begin meanwhile
            if (!channel.compareAndSet(null, open)) {
                end(open);
                return;
            }
        } catch (SQLException | RuntimeException e) {
            openAgainAt = System.nanoTime() + RETRY_OPEN_NANOS;
            if (listener != null) {
                SessionOpener.abort(listener.connection);
                sessionsOut.decrementAndGet();
            }
            if (markers != null) {
                SessionOpener.abort(markers.connection);
                sessionsOut.decrementAndGet();
            }
            if (!closed) {
                LOG.log(Level.WARNING, () -> "Could not open the sessions that wake waits up; waits with no session "
                        + "of their own poll instead: " + e.getMessage());
            }
            return;
        } finally {
            starting.set(false);
        }
        // close() sets closed before it takes the channel: one of the two ends it
        if (closed && channel.compareAndSet(open, null)) {
            end(open);
            return;
        }
        wakeAll();
        listen(open);
    }

    /**
     * Takes the wait flag on the marker session before any marker, retrying while an unlock's check
     * holds it for an instant; returns when it was taken, in nanoTime.
     *
     * @throws SQLException if it could not be taken within {@link #FLAG_PATIENCE_NANOS}
     */
    private static long takeFlag(Session markers) throws SQLException {
        long giveUpAt = System.nanoTime() + FLAG_PATIENCE_NANOS;
        try {
            while (!markers.tryLock(LockKey.of(FLAG), LockMode.SHARED)) {
                if (System.nanoTime() - giveUpAt > 0) {
                    throw new SQLException("The wait flag stayed taken exclusively for " + FLAG_PATIENCE_NANOS / 1_000_000
                            + " ms: another client holds advisory lock " + FLAG + " exclusively");
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("Interrupted while taking the wait flag", e);
        }
        return System.nanoTime();
    }

    /** The listener's loop: wakes the waiters of each key released, until its channel is replaced. */
    private void listen(Channel open) {
        int pollMillis = (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(Math.min(SLOW_POLL_NANOS, checkNanos)));
        long checkedAt = System.nanoTime();
        try {
            while (channel.get() == open) {
                if (System.nanoTime() - checkedAt >= checkNanos) {
                    // a silent connection answers no read of notifications: this fails it within the network timeout
                    open.listener.ping();
                    checkedAt = System.nanoTime();
                }
                for (String payload : PgJdbc.notifications(open.listener.connection, pollMillis)) {
                    Set<Wake> set = waiters.get(parse(payload));
                    if (set != null) {
                        set.forEach(Wake::wake);
                    }
                }
            }
            // replaced by whoever took the channel, who ends it too: ending is idempotent
            end(open);
        } catch (SQLException | RuntimeException e) {
            down(open, e);
        } catch (Error e) {
            // the thread ends here: a channel left published would keep every marked wait on the slow poll
            down(open, e);
            throw e;
        }
    }

    private static long parse(String payload) {
        try {
            return Long.parseLong(payload);
        } catch (NumberFormatException notOurs) {
            return 0;
        }
    }

    /** A session of {@code failed} broke: it is replaced on the next wait, and its waiters poll meanwhile. */
    private void down(Channel failed, Throwable e) {
        if (!channel.compareAndSet(failed, null)) {
            return;
        }
        if (!closed) {
            LOG.log(Level.WARNING, () -> "The sessions that wake waits up failed (" + e.getMessage() + "); waits "
                    + "poll until they are opened again");
        }
        end(failed);
        wakeAll();
    }

    /** Ends both sessions once, whoever calls it first. */
    private void end(Channel open) {
        if (!open.ended.compareAndSet(false, true)) {
            return;
        }
        // the listener blocks reading notifications: aborting its connection is what ends that read
        SessionOpener.abort(open.listener.connection);
        sessionsOut.decrementAndGet();
        // unlocks every marker and gives the connection back
        pool.retire(open.markers, Duration.ofSeconds(1));
        sessionsOut.decrementAndGet();
    }

    private void wakeAll() {
        waiters.values().forEach(set -> set.forEach(Wake::wake));
        // the waiters with no marker poll in the pool's condition: they leave one now
        pool.signalChange();
    }
}
