package dev.pals;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.lang.System.Logger.Level;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The connections a registry keeps out of its DataSource, multiplexed: many held locks share a
 * session; a blocking wait gets a session of its own that holds nothing, so a release never
 * queues behind a wait; at most {@code maxConnections - 1} sessions wait at once, so one is always
 * left for tries and releases. A session goes back to the DataSource only when it holds nothing,
 * after {@code pg_advisory_unlock_all()}, once it has been idle for the idle timeout.
 *
 * <p>Every session opens with the registry's {@link Lease}: a network timeout on its statements
 * and the server's keepalives for it. Loss checks and returns run on registry threads, one task
 * per session, so that a connection gone silent holds up no other session's check.
 */
final class SessionPool {

    private static final System.Logger LOG = System.getLogger(SessionPool.class.getName());

    private final SessionOpener opener;
    private final int maxConnections;
    private final long idleTimeoutNanos;
    private final BiConsumer<Session, SQLException> onLost;
    private final Executor background;

    private final ReentrantLock lock = new OrderedLock(OrderedLock.Level.POOL);
    private final Condition changed = lock.newCondition();
    @GuardedBy("lock")
    private final List<Session> sessions = new ArrayList<>();
    /** Connections being opened, counted against the maximum. */
    @GuardedBy("lock")
    private int opening;
    /** Of {@link #opening}, those opened for a wait. */
    @GuardedBy("lock")
    private int openingForWait;
    @GuardedBy("lock")
    private boolean closed;

    SessionPool(DataSource dataSource, int maxConnections, Duration idleTimeout, Lease lease, Executor background,
            BiConsumer<Session, SQLException> onLost) {
        this.opener = new SessionOpener(dataSource, maxConnections, lease, new WaitFlag());
        this.maxConnections = maxConnections;
        this.idleTimeoutNanos = idleTimeout.toNanos();
        this.background = background;
        this.onLost = onLost;
    }

    /** The lease's bounds, with the server's side as the last session opened reported it. */
    LeaseBounds leaseBounds() {
        return opener.leaseBounds();
    }

    /**
     * A session for a statement that does not wait (try, release): preferably one nobody is using,
     * else a new one while under the maximum, else the least used; but when only room for one session
     * holding nothing is left, the least used session that already holds locks, so that a wait finds
     * a session of its own. Call {@link #done} after.
     *
     * @throws InterruptedException if interrupted while every session is being opened or waiting
     */
    Session forTry() throws SQLException, InterruptedException {
        lock.lockInterruptibly();
        try {
            while (true) {
                ensureOpen();
                Session best = null;
                Session bestInUse = null;
                int emptyIdle = 0;
                for (Session session : sessions) {
                    if (session.waiting || session.broken) {
                        continue;
                    }
                    if (best == null || session.users < best.users
                            || (session.users == best.users && best.checking && !session.checking)) {
                        best = session;
                    }
                    if (holdsNothing(session)) {
                        emptyIdle++;
                    } else if (bestInUse == null || session.users < bestInUse.users) {
                        bestInUse = session;
                    }
                }
                // the last room for a session that holds nothing is kept for a wait in the server, so that a
                // wait is not left to be woken by notification while tries can share a session in use. A loss
                // check is no user: it is one short statement, not a reason to open a connection.
                if (maxConnections > 1 && emptyIdle + maxConnections - sessions.size() - opening <= 1) {
                    if (bestInUse != null) {
                        bestInUse.users++;
                        return bestInUse;
                    }
                    if (opening > 0) {
                        changed.await(100, TimeUnit.MILLISECONDS);
                        continue;
                    }
                }
                if (best != null && (best.users == 0 || sessions.size() + opening >= maxConnections)) {
                    best.users++;
                    return best;
                }
                if (sessions.size() + opening < maxConnections) {
                    return openLocked(false);
                }
                changed.await(100, TimeUnit.MILLISECONDS);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * A session of its own for a blocking wait, holding nothing; {@code null} when none is free
     * and no more may be opened (all sessions hold locks or wait).
     */
    @Nullable Session forWait() throws SQLException, InterruptedException {
        lock.lockInterruptibly();
        try {
            ensureOpen();
            int waiting = openingForWait;
            Session empty = null;
            for (Session session : sessions) {
                if (session.waiting) {
                    waiting++;
                } else if (!session.broken && holdsNothing(session) && (empty == null || empty.checking)) {
                    // one under a loss check would wait for its ping, so another is better, but not a new one
                    empty = session;
                }
            }
            if (waiting >= maxConnections - 1) {
                return null;
            }
            if (empty != null) {
                empty.users++;
                empty.waiting = true;
                return empty;
            }
            if (sessions.size() + opening < maxConnections) {
                return openLocked(true);
            }
            return null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * A session that the pool neither counts nor lends, for {@link ReleaseWakeups}, which owns it and
     * ends it with {@link #retire} or by aborting its connection. Its unlocks check no marker: the
     * keys it holds are markers and the wait flag, which no waiter marks.
     */
    Session openOutside() throws SQLException {
        lock.lock();
        try {
            ensureOpen();
        } finally {
            lock.unlock();
        }
        return opener.open(WaitFlag.UNCHECKED);
    }

    long idleTimeoutNanos() {
        return idleTimeoutNanos;
    }

    /** Marks {@code session} as used by one more thread, to run a statement on a key it holds. */
    void use(Session session) {
        lock.lock();
        try {
            session.users++;
        } finally {
            lock.unlock();
        }
    }

    /** The caller is done with {@code session}; a finished wait makes it a normal session again. */
    void done(Session session) {
        boolean retire;
        lock.lock();
        try {
            session.users--;
            session.waiting = false;
            if (session.users == 0 && session.held.isEmpty()) {
                session.idleSince = System.nanoTime();
            }
            retire = removeIfRetiring(session);
        } finally {
            lock.unlock();
        }
        if (retire) {
            retire(session, Duration.ofSeconds(1));
        }
    }

    /**
     * With an idle timeout of zero, removes an idle session that holds nothing, for the caller to
     * {@link #retire}; and wakes the threads looking for a session either way.
     */
    @GuardedBy("lock")
    private boolean removeIfRetiring(Session session) {
        changed.signalAll();
        return !closed && !session.broken && idleTimeoutNanos == 0 && isIdleEmpty(session) && sessions.remove(session);
    }

    /** Wakes every thread in {@link #awaitChange}, which then looks again. */
    void signalChange() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits up to {@code nanos} for a session to become free or empty. */
    @SuppressWarnings("WaitNotInLoop") // one wait: callers re-check the pool and loop
    void awaitChange(long nanos) throws InterruptedException {
        lock.lockInterruptibly();
        try {
            changed.awaitNanos(nanos);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Handles a failed statement: if the session is gone, it is dropped, its locks are reported
     * lost, and {@code true} is returned.
     */
    boolean failed(Session session, SQLException e) {
        if (!SqlErrors.isSessionLost(e, session.connection)) {
            return false;
        }
        discard(session, e);
        return true;
    }

    /**
     * Drops a session whose server state can no longer be trusted: it is closed, which makes
     * PostgreSQL free whatever it held, and its locks are reported lost.
     */
    void discard(Session session, SQLException e) {
        lock.lock();
        try {
            if (session.broken) {
                return;
            }
            session.broken = true;
            sessions.remove(session);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        LOG.log(Level.WARNING, () -> "Lost the lock connection of backend " + session.backendPid + " holding "
                + session.held.size() + " lock(s): " + e.getMessage());
        onLost.accept(session, e);
        SessionOpener.abort(session.connection);
    }

    boolean isClosed() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    /**
     * One housekeeping pass: checks that each idle session holding locks is still alive (one
     * {@code SELECT 1} each, under the network timeout), and returns sessions that have held
     * nothing for the idle timeout. Each check and return is a task of its own, so a session
     * that does not answer delays no other; a session is not checked again while its check runs.
     */
    void housekeep() {
        List<Session> toPing = new ArrayList<>();
        List<Session> toRetire = new ArrayList<>();
        lock.lock();
        try {
            if (closed) {
                return;
            }
            long now = System.nanoTime();
            for (Session session : List.copyOf(sessions)) {
                if (session.users > 0 || session.waiting || session.broken || session.checking) {
                    continue;
                }
                if (!session.held.isEmpty()) {
                    session.checking = true;
                    toPing.add(session);
                } else if (now - session.idleSince >= idleTimeoutNanos) {
                    sessions.remove(session);
                    toRetire.add(session);
                }
            }
        } finally {
            lock.unlock();
        }
        toPing.forEach(session -> inBackground(() -> check(session)));
        toRetire.forEach(session -> inBackground(() -> retire(session, Duration.ofSeconds(1))));
    }

    /**
     * Pings a session that held locks when the pass began. Skipped if it is in use by then, as the
     * statement in flight runs under the network timeout and so fails on a silent connection, or if
     * it has let go of all its locks meanwhile, as it has nothing to lose.
     */
    private void check(Session session) {
        try {
            if (session.io.tryLock()) {
                try {
                    if (!session.held.isEmpty()) {
                        session.ping();
                    }
                } catch (SQLException e) {
                    failed(session, e);
                } catch (RuntimeException e) {
                    // outside JDBC's contract, the driver says nothing of the session: if it were kept, every
                    // later check could fail the same way, and its locks would never be checked again
                    discard(session, new SQLException("The loss check failed unexpectedly: " + e, "08000", e));
                } finally {
                    session.releaseIo();
                }
            }
        } finally {
            boolean retire;
            lock.lock();
            try {
                session.checking = false;
                retire = removeIfRetiring(session);
            } finally {
                lock.unlock();
            }
            if (retire) {
                retire(session, Duration.ofSeconds(1));
            }
        }
    }

    private void inBackground(Runnable task) {
        try {
            background.execute(task);
        } catch (RejectedExecutionException closing) {
            task.run();
        }
    }

    /** Sessions out of the DataSource now. */
    int openConnections() {
        lock.lock();
        try {
            return sessions.size() + opening;
        } finally {
            lock.unlock();
        }
    }

    /** Every session, for {@link Engine#close}: no new work is accepted after this. */
    List<Session> closeAndDrain() {
        lock.lock();
        try {
            closed = true;
            List<Session> all = List.copyOf(sessions);
            sessions.clear();
            changed.signalAll();
            return all;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Unlocks everything {@code session} holds and returns its connection to the DataSource. If a
     * statement still runs on it after {@code patience}, the connection is aborted instead, which
     * ends the session and so frees its locks as well.
     */
    void retire(Session session, Duration patience) {
        session.retired = true;
        if (!lockWithin(session.io, patience)) {
            LOG.log(Level.WARNING, () -> "Backend " + session.backendPid + " was still busy when its connection "
                    + "was to go back to the DataSource; aborting it, which frees its locks");
            SessionOpener.abort(session.connection);
            return;
        }
        boolean clean = false;
        try {
            session.unlockAll();
            clean = true;
            Lease.reset(session.connection, session.originalNetworkTimeoutMillis);
        } catch (SQLException e) {
            String step = clean ? "reset" : "unlock all on";
            LOG.log(Level.DEBUG, () -> "Could not " + step + " backend " + session.backendPid + " before returning it: "
                    + e.getMessage());
        } finally {
            // a connection that may still hold locks never goes back to the DataSource: aborting ends its session.
            // Closed before letting go of io, so that a call still queued finds it closed rather than open.
            try {
                if (clean) {
                    SessionOpener.closeQuietly(session.connection);
                } else {
                    LOG.log(Level.WARNING, () -> "Backend " + session.backendPid + " could not unlock all it held; "
                            + "aborting its connection instead of returning it, which frees its locks");
                    SessionOpener.abort(session.connection);
                }
            } finally {
                session.releaseIo();
            }
        }
    }

    /**
     * Takes {@code io} within {@code patience} whatever the caller's interrupt status, which is kept:
     * a release from an interrupted thread must still return its connection rather than abort it.
     */
    private static boolean lockWithin(ReentrantLock io, Duration patience) {
        if (io.tryLock()) {
            return true;
        }
        long deadline = System.nanoTime() + patience.toNanos();
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return io.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Nobody uses it and it holds nothing; a loss check may still be on it. */
    @GuardedBy("lock")
    private boolean holdsNothing(Session session) {
        return session.users == 0 && !session.waiting && session.held.isEmpty();
    }

    /** Holds nothing and nothing runs on it: it may go back to the DataSource. */
    @GuardedBy("lock")
    private boolean isIdleEmpty(Session session) {
        return holdsNothing(session) && !session.checking;
    }

    @GuardedBy("lock")
    private void ensureOpen() {
        if (closed) {
            throw LockRegistry.closedError(null);
        }
    }

    /** Opens a session without holding the pool lock during I/O; called and returns with it held. */
    @GuardedBy("lock")
    private Session openLocked(boolean forWait) throws SQLException {
        opening++;
        openingForWait += forWait ? 1 : 0;
        lock.unlock();
        Session session = null;
        try {
            session = opener.open();
        } finally {
            lock.lock();
            opening--;
            openingForWait -= forWait ? 1 : 0;
            changed.signalAll();
        }
        if (closed) {
            SessionOpener.closeQuietly(session.connection);
            ensureOpen();
        }
        session.users = 1;
        session.waiting = forWait;
        sessions.add(session);
        return session;
    }
}
