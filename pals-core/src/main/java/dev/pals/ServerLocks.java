package dev.pals;

import java.lang.System.Logger.Level;
import java.sql.SQLException;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The statements of a {@link LockEngine} on the server: on which session a try, a wait or an
 * unlock runs, and what its failure means for that session and for the caller. Called without any
 * key's mutex; the caller settles the key's phase with what these return.
 */
final class ServerLocks {

    private static final System.Logger LOG = System.getLogger(ServerLocks.class.getName());

    /** Back-off when no session is free to wait on and no marker could be left for a wake-up. */
    private static final long MIN_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long MAX_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    private final SessionPool pool;
    private final Lease lease;
    /** Runs the waits in the server: one thread per wait, and never more waits than sessions. */
    private final Executor waitThreads;
    /** Sends cancels, on threads that are never all busy waiting. */
    private final Executor workers;
    private final ScheduledExecutorService timer;
    /** Waits in the server now, so that closing the registry can cancel them. */
    private final Set<ServerWait> waits = ConcurrentHashMap.newKeySet();
    private final ReleaseWakeups wakeups;

    ServerLocks(SessionPool pool, Lease lease, Executor waitThreads, Executor workers, ScheduledExecutorService timer) {
        this.pool = pool;
        this.lease = lease;
        this.waitThreads = waitThreads;
        this.workers = workers;
        this.timer = timer;
        this.wakeups = new ReleaseWakeups(pool, workers, lease.lossCheckInterval);
    }

    /** The backend each acquisition waiting in the server waits on, by its holder. */
    IdentityHashMap<Holder, Integer> waitingBackends() {
        IdentityHashMap<Holder, Integer> backends = new IdentityHashMap<>();
        for (ServerWait wait : waits) {
            backends.put(wait.holder(), wait.session().backendPid);
        }
        return backends;
    }

    /** Gives the wake-up sessions back once idle for {@code idleNanos}. */
    void housekeep(long idleNanos) {
        wakeups.housekeep(idleNanos);
    }

    /** Cancels every wait in the server and wakes every wait for a notification, for a registry being closed. */
    void abandonWaits() {
        waits.forEach(ServerWait::abandon);
        wakeups.close();
    }

    /**
     * Whether another session waits in the server for {@code holder}'s key exclusively, asked on the
     * session that holds the key shared; called without the key's mutex.
     */
    boolean exclusiveQueued(Session holding, Holder holder) {
        pool.use(holding);
        holding.io.lock();
        try {
            return holding.exclusiveQueued(holder.key);
        } catch (SQLException e) {
            if (pool.failed(holding, e)) {
                throw new LockException("Could not join lock '" + holder.name + "': the connection holding it was "
                        + "lost (" + e.getMessage() + "); nothing is held. Check the database server and network.", e);
            }
            throw SqlErrors.lockFailure("try", holder.name, holder.mode, e);
        } finally {
            holding.releaseIo();
            pool.done(holding);
        }
    }

    /** {@link Session#grantedPairs}, asked on a session already out for lock {@code name}'s sake. */
    List<Integer> grantedPairs(String name, int classId, int from, int to) throws InterruptedException {
        Session session;
        try {
            session = pool.forTry();
        } catch (SQLException e) {
            throw SqlErrors.unreachable(name, e);
        }
        session.io.lock();
        try {
            return session.grantedPairs(classId, from, to);
        } catch (SQLException e) {
            pool.failed(session, e);
            throw new LockException("Could not read pg_locks for '" + name + "' (" + e.getMessage() + "); nothing "
                    + "more is held. Check the database server and network.", e);
        } finally {
            session.releaseIo();
            pool.done(session);
        }
    }

    /**
     * The next fencing token, on the session that holds {@code holder}'s key: a session that died
     * fails the statement, so no token is ever issued to a lock that is no longer held. An interrupt
     * is kept aside meanwhile, as on a virtual thread it would close the connection and lose every
     * lock on it; the statement is bounded by the network timeout.
     */
    long fencingToken(Session holding, Holder holder, FencingSequence sequence) {
        boolean interrupted = Thread.interrupted();
        pool.use(holding);
        holding.io.lock();
        try {
            return sequence.next(holding, holder.name);
        } catch (SQLException e) {
            if (pool.failed(holding, e)) {
                throw new LockLostException(holder.name, "Lock '" + holder.name + "' was lost before its fencing "
                        + "token was issued: its connection failed (" + e.getMessage() + ")", e);
            }
            throw new LockException("PostgreSQL failed to issue a fencing token for lock '" + holder.name + "': "
                    + e.getMessage() + " (SQLSTATE " + e.getSQLState() + "); the lock is still held", e);
        } finally {
            holding.releaseIo();
            pool.done(holding);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** One {@code pg_try_advisory_lock} on a session already out; retried once if that session had died. */
    @Nullable Session tryLock(KeyState state, Holder holder) throws InterruptedException {
        for (int attempt = 0; ; attempt++) {
            Session session;
            try {
                session = pool.forTry();
            } catch (SQLException e) {
                throw SqlErrors.unreachable(holder.name, e);
            }
            try {
                if (session.tryLock(holder.key, holder.mode)) {
                    session.held.add(state);
                    return session;
                }
                return null;
            } catch (SQLException e) {
                if (pool.failed(session, e)) {
                    if (attempt == 0) {
                        continue;
                    }
                    throw new LockException("Could not try lock '" + holder.name + "': the lock connection was lost ("
                            + e.getMessage() + "); nothing is held. Check the database server and network.", e);
                }
                throw SqlErrors.lockFailure("try", holder.name, holder.mode, e);
            } finally {
                pool.done(session);
            }
        }
    }

    /** The connections of the release wake-ups, which the pool does not count. */
    int wakeupConnections() {
        return wakeups.sessionsOut();
    }

    /**
     * Waits for the key on a session of its own in the server; with none to be had, waits for a
     * notification of the key's release ({@link ReleaseWakeups}), trying again on each, and every
     * {@link ReleaseWakeups#SLOW_POLL_NANOS} for releases by other clients; with no marker left,
     * polls with a back-off. The marker is taken back on every way out.
     */
    @Nullable Session waitFor(KeyState state, Holder holder, long deadline) throws InterruptedException {
        long poll = MIN_POLL_NANOS;
        ReleaseWakeups.Wake wake = null;
        try {
            while (true) {
                Session session;
                try {
                    session = pool.forWait();
                } catch (SQLException e) {
                    throw SqlErrors.unreachable(holder.name, e);
                }
                if (session != null) {
                    if (wake != null) {
                        wakeups.unregister(wake);
                        wake = null;
                    }
                    return await(new ServerWait(pool, session, state, holder, deadline, lease, timer, workers), state,
                            holder);
                }
                if (wake == null) {
                    wake = wakeups.register(holder.key);
                } else {
                    wakeups.mark(wake);
                }
                boolean marked = wakeups.marked(wake);
                wake.clear();
                // after the marker: a release that came before it is seen here, any later one notifies
                long triedAt = System.nanoTime();
                Session got = tryLock(state, holder);
                if (got != null) {
                    return got;
                }
                long nanos = Timeouts.remaining(deadline);
                if (nanos == 0) {
                    return null;
                }
                if (marked) {
                    wakeups.await(wake, Math.min(nanos, ReleaseWakeups.SLOW_POLL_NANOS), triedAt);
                } else {
                    // no marker, so no notification: every session holds locks or waits, so poll
                    pool.awaitChange(Math.min(nanos, poll));
                    poll = Math.min(MAX_POLL_NANOS, poll * 2);
                }
            }
        } finally {
            if (wake != null) {
                wakeups.unregister(wake);
            }
        }
    }

    private @Nullable Session await(ServerWait wait, KeyState state, Holder holder) throws InterruptedException {
        waits.add(wait);
        try {
            waitThreads.execute(wait);
        } catch (RejectedExecutionException e) {
            waits.remove(wait);
            pool.done(wait.session());
            throw LockRegistry.closedError(e);
        }
        try {
            return wait.result.get() ? wait.session() : null;
        } catch (InterruptedException e) {
            if (!wait.abandon() && grantedQuietly(wait)) {
                // granted before the interrupt landed: give it back, the caller sees only the interrupt
                try {
                    unlock(wait.session(), state, holder.key, holder.mode);
                } catch (SQLException unlockFailure) {
                    LOG.log(Level.WARNING, () -> "Could not give back lock '" + holder.name + "' after an interrupt ("
                            + unlockFailure.getMessage() + "); its connection was dropped, which frees it");
                }
            }
            throw e;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException failure) {
                throw failure;
            }
            throw new LockException("Waiting for lock '" + holder.name + "' failed: " + e.getCause(), e.getCause());
        } catch (CancellationException e) {
            return null;
        } finally {
            waits.remove(wait);
        }
    }

    private static boolean grantedQuietly(ServerWait wait) {
        try {
            return wait.result.join();
        } catch (RuntimeException failed) {
            return false;
        }
    }

    /**
     * Unlocks {@code key} on the session that holds it for {@code state}, and forgets it there. A
     * session whose unlock failed is dropped, which frees whatever it held on the server.
     *
     * @return whether the session held it, or is being retired, which unlocks it
     * @throws SQLException the unlock's failure, after the session was dropped
     */
    boolean unlock(Session session, KeyState state, LockKey key, LockMode mode) throws SQLException {
        pool.use(session);
        try {
            // a session the pool retires unlocks all it holds, this lock with the rest: whatever the
            // unlock met on it then (nothing to unlock, a closed connection) is no loss
            return session.unlock(key, mode) || session.retired;
        } catch (SQLException e) {
            if (session.retired) {
                return true;
            }
            pool.discard(session, e);
            throw e;
        } finally {
            session.held.remove(state);
            pool.done(session);
        }
    }
}
