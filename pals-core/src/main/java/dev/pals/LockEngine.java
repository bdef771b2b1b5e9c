package dev.pals;

import java.lang.System.Logger.Level;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Acquire and release: admission between the handles of this JVM first ({@link KeyState}),
 * then the server: a try on a session already out, and if the caller may wait, a
 * {@link ServerWait} on a session of its own.
 *
 * <h2>Concurrency design</h2>
 *
 * <p>Three kinds of lock, taken only in this order (a thread that holds one may take only those
 * below it):
 * <ol>
 *   <li>{@link Session#io}, one per connection: one statement at a time. Callers queue their
 *       tries and unlocks and whoever takes it sends them all ({@code Session.submit}).
 *   <li>{@link KeyState#mutex}, one per key: the key's phase, mode, holders and session. No I/O
 *       runs under it: a thread that must ask the server moves the phase to ACQUIRING or
 *       RELEASING (or, for a shared join, leaves it HELD), lets go of the mutex, and re-takes it
 *       to settle the outcome; others wait on {@link KeyState#changed} meanwhile.
 *   <li>The {@link SessionPool}'s lock: which sessions are out, and each one's users, waiting
 *       flag and idle time.
 * </ol>
 * The pool's own fields carry {@code @GuardedBy}, which Error Prone checks at every build; the
 * key states' and sessions' fields cannot yet, as their locks are taken in one method and let go
 * in another ({@code enter}/{@code leave}, {@code releaseIo}).
 * A failed statement found under {@code io} reaches {@link #sessionLost}, which takes key mutexes:
 * that is order 1 then 2. {@link Session#held} is a concurrent set, written by whoever changes
 * what the server holds on that session. Loss listeners are told with no lock held; observers'
 * {@code sectionStarted} runs under the key's mutex, their section ends do not.
 */
final class LockEngine extends Engine {

    private static final System.Logger LOG = System.getLogger(LockEngine.class.getName());

    /** Back-off when every session holds locks and none is free to wait on. */
    private static final long MIN_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long MAX_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    private final ConcurrentHashMap<LockKey, KeyState> keys = new ConcurrentHashMap<>();
    private final SessionPool pool;
    private final Executor workers;
    private final ScheduledExecutorService timer;
    private final List<LockLossListener> listeners;
    private final Lease lease;
    /** Waits in the server now, so that closing the registry can cancel them. */
    private final Set<ServerWait> waits = ConcurrentHashMap.newKeySet();
    /** Transaction-scoped holds their callers track, for the activity snapshot. */
    private final Set<TransactionHold> transactionHolds = ConcurrentHashMap.newKeySet();

    LockEngine(DataSource dataSource, int maxConnections, Duration idleTimeout, Lease lease, Executor workers,
            ScheduledExecutorService timer, List<LockLossListener> listeners, List<LockObserver> observers) {
        super(observers);
        this.lease = lease;
        this.pool = new SessionPool(dataSource, maxConnections, idleTimeout, lease, workers, this::sessionLost);
        this.workers = workers;
        this.timer = timer;
        this.listeners = List.copyOf(listeners);
    }

    /** A transaction's hold on a lock, from its acquisition until its caller says the transaction ended. */
    private static final class TransactionHold {
        final LockInfo info;
        final String owner = LockActivity.currentOwner();
        final Instant since = Instant.now();
        final @Nullable Integer backendPid;
        final LockObserver.Section section;

        TransactionHold(LockInfo info, @Nullable Integer backendPid, LockObserver.Section section) {
            this.info = info;
            this.backendPid = backendPid;
            this.section = section;
        }
    }

    /** Tracks a transaction's hold until the returned section is ended; ending it again does nothing. */
    LockObserver.Section transactionHeld(LockInfo info, @Nullable Integer backendPid) {
        TransactionHold hold = new TransactionHold(info, backendPid, observer().sectionStarted(info));
        transactionHolds.add(hold);
        heldCount.incrementAndGet();
        return lost -> {
            if (transactionHolds.remove(hold)) {
                heldCount.decrementAndGet();
                hold.section.ended(lost);
            }
        };
    }

    /** Every hold and waiting acquisition now; each key is read under its mutex, the whole is no atomic snapshot. */
    @Override
    List<LockActivity> activity() {
        List<LockActivity> activity = new ArrayList<>();
        for (KeyState state : keys.values()) {
            state.mutex.lock();
            try {
                Session session = state.session;
                if (state.phase == KeyState.Phase.HELD && session != null) {
                    for (Holder holder : state.holders) {
                        activity.add(new LockActivity(holder.info, LockActivity.State.HELD, holder.owner, holder.since,
                                holder.count, session.backendPid));
                    }
                }
            } finally {
                state.mutex.unlock();
            }
        }
        for (TransactionHold hold : transactionHolds) {
            activity.add(new LockActivity(hold.info, LockActivity.State.HELD, hold.owner, hold.since, 1,
                    hold.backendPid));
        }
        IdentityHashMap<Holder, Integer> inServer = new IdentityHashMap<>();
        for (ServerWait wait : waits) {
            inServer.put(wait.holder(), wait.session().backendPid);
        }
        for (Waiter waiter : waiters()) {
            activity.add(new LockActivity(waiter.info, LockActivity.State.WAITING, waiter.owner, waiter.since, 0,
                    waiter.holder == null ? waiter.backendPid : inServer.get(waiter.holder)));
        }
        return activity;
    }

    /**
     * Takes the lock for {@code holder}. Without {@code mayWait} it never waits for a holder (it
     * may wait one round trip for another handle's try or release of the same key to finish).
     *
     * @param deadline in {@link System#nanoTime()} terms, {@link Long#MAX_VALUE} for none
     * @return whether the lock is now held
     * @throws InterruptedException if interrupted while waiting; nothing is then held
     */
    @Override
    @SuppressWarnings("NonAtomicVolatileUpdate") // count changes under the key's lock; volatile for isHeld()
    boolean admit(Holder holder, boolean mayWait, long deadline) throws InterruptedException {
        KeyState state = enter(holder.key);
        // the holding session on which a shared join last asked the server, and what it answered
        Session asked = null;
        boolean exclusiveQueued = false;
        try {
            while (true) {
                if (state.isHeldBy(holder)) {
                    holder.count++;
                    return true;
                }
                boolean quickOpInFlight = false;
                switch (state.phase) {
                    case FREE -> {
                        state.phase = KeyState.Phase.ACQUIRING;
                        state.mode = holder.mode;
                        state.acquireMayWait = mayWait;
                        state.mutex.unlock();
                        return acquireOnServer(state, holder, mayWait, deadline);
                    }
                    case HELD -> {
                        if (holder.mode == LockMode.SHARED && state.mode == LockMode.SHARED) {
                            Session holding = Objects.requireNonNull(state.session, "a held key has a session");
                            if (asked != holding) {
                                // PostgreSQL queues a new shared request behind a waiting exclusive one; a join
                                // must wait too, or this registry's readers could keep a writer out for ever
                                state.mutex.unlock();
                                try {
                                    exclusiveQueued = exclusiveQueuedOnServer(holding, holder);
                                } finally {
                                    state.mutex.lock();
                                }
                                asked = holding;
                                continue;
                            }
                            if (!exclusiveQueued) {
                                state.holders.add(holder);
                                granted(holder);
                                return true;
                            }
                        }
                    }
                    case ACQUIRING -> quickOpInFlight = !state.acquireMayWait;
                    case RELEASING -> quickOpInFlight = true;
                }
                if (quickOpInFlight && !mayWait) {
                    state.changed.await();
                } else if (!mayWait) {
                    return false;
                } else {
                    long nanos = Timeouts.remaining(deadline);
                    if (nanos == 0) {
                        return false;
                    }
                    if (nanos == Long.MAX_VALUE) {
                        state.changed.await();
                    } else {
                        state.changed.awaitNanos(nanos);
                    }
                    asked = null;
                }
            }
        } finally {
            if (state.mutex.isHeldByCurrentThread()) {
                leave(state);
            }
        }
    }

    /**
     * Whether another session waits in the server for {@code holder}'s key exclusively, asked on the
     * session that holds the key shared; called without the key's mutex.
     */
    private boolean exclusiveQueuedOnServer(Session holding, Holder holder) {
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

    /** Called in phase ACQUIRING without the mutex; settles the phase before returning. */
    @SuppressWarnings("Finally") // a close or a lost connection met while settling is what the caller must hear
    private boolean acquireOnServer(KeyState state, Holder holder, boolean mayWait, long deadline)
            throws InterruptedException {
        Session session = null;
        boolean interrupted = false;
        try {
            session = tryOnServer(state, holder);
            if (session == null && mayWait && Timeouts.remaining(deadline) > 0) {
                session = waitOnServer(state, holder, deadline);
            }
            return session != null;
        } catch (InterruptedException e) {
            interrupted = true;
            throw e;
        } finally {
            state.mutex.lock();
            boolean closed = pool.isClosed();
            try {
                if (session != null && !session.broken && !closed) {
                    state.phase = KeyState.Phase.HELD;
                    state.session = session;
                    state.holders.add(holder);
                    state.changed.signalAll();
                    granted(holder);
                } else {
                    if (session != null) {
                        session.held.remove(state);
                    }
                    free(state);
                }
            } finally {
                leave(state);
            }
            if (closed) {
                if (interrupted) {
                    // this replaces the InterruptedException, which had cleared the status: keep the interrupt
                    Thread.currentThread().interrupt();
                }
                throw new IllegalStateException("This LockRegistry was closed while lock '" + holder.name
                        + "' was being acquired; nothing is held");
            }
            if (session != null && session.broken) {
                throw new LockException("The connection holding lock '" + holder.name + "' was lost just as it "
                        + "was acquired; nothing is held. Check the database server and network.");
            }
        }
    }

    /** One {@code pg_try_advisory_lock} on a session already out; retried once if that session had died. */
    private @Nullable Session tryOnServer(KeyState state, Holder holder) throws InterruptedException {
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

    private @Nullable Session waitOnServer(KeyState state, Holder holder, long deadline) throws InterruptedException {
        long poll = MIN_POLL_NANOS;
        while (true) {
            Session session;
            try {
                session = pool.forWait();
            } catch (SQLException e) {
                throw SqlErrors.unreachable(holder.name, e);
            }
            if (session != null) {
                return await(new ServerWait(pool, session, state, holder, deadline, lease, timer, workers), state, holder);
            }
            // every session holds locks: no clean session to wait on, so retry on a busy one
            long nanos = Timeouts.remaining(deadline);
            if (nanos == 0) {
                return null;
            }
            pool.awaitChange(Math.min(nanos, poll));
            poll = Math.min(MAX_POLL_NANOS, poll * 2);
            Session got = tryOnServer(state, holder);
            if (got != null) {
                return got;
            }
        }
    }

    private @Nullable Session await(ServerWait wait, KeyState state, Holder holder) throws InterruptedException {
        waits.add(wait);
        try {
            workers.execute(wait);
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
                    unlockOnServer(wait.session(), state, holder.key, holder.mode);
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

    @Override
    int trackedKeys() {
        return keys.size();
    }

    @Override
    int openConnections() {
        return pool.openConnections();
    }

    @Override
    void housekeep() {
        pool.housekeep();
    }

    @Override
    LeaseBounds leaseBounds() {
        return pool.leaseBounds();
    }

    /** Cancels waits, forgets holders, and unlocks and returns every connection; a busy one is aborted after {@code patience}. */
    @Override
    void close(Duration patience) {
        List<Session> sessions = pool.closeAndDrain();
        abandonWaits();
        forgetAll();
        sessions.forEach(session -> pool.retire(session, patience));
    }

    /** Cancels every wait in the server, for a registry being closed. */
    private void abandonWaits() {
        waits.forEach(ServerWait::abandon);
    }

    /**
     * Releases one hold of {@code holder}.
     *
     * @return whether it was held
     * @throws LockLostException if the lock was lost since it was acquired (reported once)
     */
    @Override
    @SuppressWarnings("NonAtomicVolatileUpdate") // count changes under the key's lock; volatile for isHeld()
    boolean release(Holder holder) {
        KeyState state = enter(holder.key);
        Session session;
        LockMode mode;
        LockObserver.Section section;
        try {
            if (!state.isHeldBy(holder)) {
                return holder.notHeld();
            }
            holder.count--;
            if (holder.count > 0) {
                return true;
            }
            state.removeHolder(holder);
            section = letGo(holder);
            if (!state.holders.isEmpty()) {
                session = null;
                mode = state.mode;
            } else {
                state.phase = KeyState.Phase.RELEASING;
                session = Objects.requireNonNull(state.session, "a held key has a session");
                mode = state.mode;
                state.users++;
            }
        } finally {
            leave(state);
        }
        if (session == null) {
            Holder.end(section, null);
            return true;
        }
        LockException failure = null;
        try {
            if (!unlockOnServer(session, state, holder.key, mode)) {
                failure = new LockLostException(holder.name, "Lock '" + holder.name + "' was not held by its "
                        + "PostgreSQL session when released (backend " + session.backendPid + "), so the critical "
                        + "section may not have been exclusive", null);
            }
        } catch (SQLException e) {
            // judged by its SQLSTATE: the session was dropped, so its connection is closed by now
            failure = SqlErrors.isSessionLost(e, null)
                    ? new LockLostException(holder.name, "Lock '" + holder.name + "' was lost before it was "
                            + "released: its connection failed (" + e.getMessage() + "), so PostgreSQL had already "
                            + "freed it and the critical section may not have been exclusive", e)
                    : SqlErrors.unexpected("release", holder.name, e);
        } finally {
            state.mutex.lock();
            try {
                free(state);
            } finally {
                leave(state);
            }
        }
        Holder.end(section, failure instanceof LockLostException lost ? lost : null);
        if (failure instanceof LockLostException lost) {
            tellListeners(holder, lost);
        }
        if (failure != null) {
            throw failure;
        }
        return true;
    }

    /**
     * Unlocks {@code key} on the session that holds it for {@code state}, and forgets it there. A
     * session whose unlock failed is dropped, which frees whatever it held on the server.
     *
     * @return whether the session held it, or is being retired, which unlocks it
     * @throws SQLException the unlock's failure, after the session was dropped
     */
    private boolean unlockOnServer(Session session, KeyState state, LockKey key, LockMode mode) throws SQLException {
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

    /** Marks every lock of a dead session lost, and tells the listeners. */
    private void sessionLost(Session session, SQLException cause) {
        // the pairs as found: the owner may release or re-acquire before the listeners run
        List<Loss> lost = new ArrayList<>();
        for (KeyState state : List.copyOf(session.held)) {
            state.mutex.lock();
            try {
                if (state.session != session || state.phase != KeyState.Phase.HELD) {
                    continue;
                }
                for (Holder holder : state.holders) {
                    LockObserver.Section section = letGo(holder);
                    holder.lost = new LockLostException(holder.name, "Lock '" + holder.name + "' was lost: the "
                            + "PostgreSQL session holding it (backend " + session.backendPid + ") ended ("
                            + cause.getMessage() + "), so PostgreSQL freed it and another holder may have taken it",
                            cause);
                    lost.add(new Loss(holder, holder.lost, section));
                }
                free(state);
            } finally {
                state.mutex.unlock();
            }
        }
        session.held.clear();
        if (lost.isEmpty()) {
            return;
        }
        // the detecting thread may hold a session or be mid-release: tell listeners from elsewhere
        try {
            workers.execute(() -> report(lost));
        } catch (RejectedExecutionException closed) {
            report(lost);
        }
    }

    /** A holder whose lock a dead session took with it, and its section to end. */
    private record Loss(Holder holder, LockLostException cause, LockObserver.@Nullable Section section) {
    }

    private void report(List<Loss> lost) {
        for (Loss loss : lost) {
            Holder.end(loss.section(), loss.cause());
            tellListeners(loss.holder(), loss.cause());
        }
    }

    /** Logs a loss and tells the listeners, whether the housekeeper or a release found it. */
    private void tellListeners(Holder holder, LockLostException loss) {
        LOG.log(Level.WARNING, loss::getMessage);
        AdvisoryLock handle = holder.handle.get();
        if (handle == null) {
            return;
        }
        for (LockLossListener listener : listeners) {
            try {
                listener.lockLost(handle, loss);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "A LockLossListener failed; ignored", e);
            }
        }
    }

    /** Forgets every holder, for a registry being closed; the sessions are unlocked by the caller. */
    private void forgetAll() {
        List<LockObserver.@Nullable Section> sections = new ArrayList<>();
        for (KeyState state : List.copyOf(keys.values())) {
            state.mutex.lock();
            try {
                if (state.phase != KeyState.Phase.HELD) {
                    // an acquirer or releaser in flight settles the state itself and sees the registry closed
                    continue;
                }
                for (Holder holder : state.holders) {
                    sections.add(letGo(holder));
                    holder.releasedByClose = true;
                }
                free(state);
            } finally {
                state.mutex.unlock();
            }
        }
        sections.forEach(section -> Holder.end(section, null));
    }

    /** Returns the key's state with its mutex held, counted as used. */
    @SuppressWarnings("LockNotBeforeTry") // the mutex is handed to the caller, who gives it back with leave()
    private KeyState enter(LockKey key) {
        while (true) {
            KeyState state = keys.computeIfAbsent(key, KeyState::new);
            state.mutex.lock();
            if (!state.retired) {
                state.users++;
                return state;
            }
            state.mutex.unlock();
        }
    }

    /** Counts the caller out and unlocks the mutex; an unused free state leaves the table. */
    private void leave(KeyState state) {
        state.users--;
        dropIfUnused(state);
        state.mutex.unlock();
    }

    /** Forgets the key's holders and wakes its waiters; called with the mutex held. */
    private void free(KeyState state) {
        state.holders.clear();
        state.phase = KeyState.Phase.FREE;
        state.session = null;
        state.changed.signalAll();
        dropIfUnused(state);
    }

    private void dropIfUnused(KeyState state) {
        if (state.users == 0 && state.phase == KeyState.Phase.FREE) {
            state.retired = true;
            keys.remove(state.key, state);
        }
    }
}
