package dev.pals;

import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Acquire and release on PostgreSQL: admission between the handles of this JVM first, then the
 * server: a try on a session already out, and if the caller may wait, a {@link ServerWait} on a
 * session of its own. This class orchestrates; the state it moves belongs to the classes below.
 *
 * <h2>Concurrency design</h2>
 *
 * <p>Layers, each calling only the next: the public handles ({@link LockRegistry},
 * {@link AdvisoryLock}, {@link TransactionLock}) talk to {@link Engine}, which tells observers and
 * counts holds and waits for either engine; this one decides per key with {@link KeyTable} and
 * {@link KeyState}, runs its statements through {@link ServerLocks} on sessions from
 * {@link SessionPool} ({@link SessionOpener} opens them, {@link Session} sends their statements,
 * {@link ServerWait} and {@link Cancellation} wait and cancel), and reports losses through
 * {@link LossReports}. Threads come from {@link RegistryThreads}, each lane bounded by what it
 * serves.
 *
 * <p>Who owns what: a {@link KeyState}'s phase, mode, holders and session change only through its
 * own methods, which assert its mutex is held; whether it stays in the table is the
 * {@link KeyTable}'s bookkeeping, under the same mutex. A {@link Holder}'s counts change under its
 * key's mutex ({@code Engine.granted}, {@code letGo}). The pool's fields are guarded by its own
 * lock. {@link Session#held} is a concurrent set, written by whoever changes what the server holds
 * on that session.
 *
 * <p>Three kinds of lock, taken only in this order (a thread that holds one may take only those
 * below it):
 * <ol>
 *   <li>{@link Session#io}, one per connection: one statement at a time. A caller that finds it
 *       free and nothing queued sends its own call; otherwise callers queue their tries and unlocks
 *       and whoever takes it sends them all ({@code Session.submit}).
 *   <li>{@link KeyState#mutex}, one per key. No I/O runs under it: a thread that must ask the
 *       server moves the phase to ACQUIRING or RELEASING (or, for a shared join, leaves it HELD),
 *       lets go of the mutex, and re-takes it to settle the outcome; others wait on
 *       {@link KeyState#changed} meanwhile.
 *   <li>The {@link SessionPool}'s lock: which sessions are out, and each one's users, waiting
 *       flag and idle time.
 * </ol>
 * All three are {@link OrderedLock}s: with assertions on (the tests), blocking on one while holding
 * a lock further down fails at once, naming both. The pool's fields carry {@code @GuardedBy}, which
 * Error Prone checks at every build; the key states' cannot, as {@link KeyTable#enter} hands the
 * mutex to its caller, so their methods assert it instead; the session fields the pool decides on
 * ({@code users}, {@code waiting}, {@code idleSince}) are touched only by the pool, under its lock.
 * A failed statement found under {@code io} reaches {@link LossReports#sessionLost}, which takes
 * key mutexes: that is order 1 then 2.
 *
 * <p>No user code runs under any of these locks: a critical section is started for the observers
 * by the acquirer once the key's mutex is let go, and ended by whoever lets the hold go, also
 * outside it ({@link OpenSection}); loss listeners are told on a worker thread.
 */
final class LockEngine extends Engine {

    private final KeyTable keys = new KeyTable();
    private final SessionPool pool;
    private final LossReports losses;
    private final ServerLocks server;
    private final @Nullable FencingSequence fencing;

    LockEngine(DataSource dataSource, int maxConnections, Duration idleTimeout, Lease lease, RegistryThreads threads,
            List<LockLossListener> listeners, List<LockObserver> observers, @Nullable FencingTokens fencing) {
        super(observers);
        this.fencing = fencing == null ? null : new FencingSequence(fencing);
        this.losses = new LossReports(this, keys, threads.workers(), listeners);
        this.pool = new SessionPool(dataSource, maxConnections, idleTimeout, lease, threads.workers(),
                losses::sessionLost);
        this.server = new ServerLocks(pool, lease, threads.serverWaits(), threads.workers(), threads.housekeeper());
    }

    /** Every hold and waiting acquisition now; each key is read under its mutex, the whole is no atomic snapshot. */
    @Override
    List<LockActivity> activity() {
        List<LockActivity> activity = new ArrayList<>();
        for (KeyState state : keys.states()) {
            state.mutex.lock();
            try {
                Session session = state.session();
                if (state.phase() == KeyState.Phase.HELD && session != null) {
                    for (Holder holder : state.holders()) {
                        if (holder.reportedAs == null) {
                            continue;
                        }
                        activity.add(new LockActivity(holder.info, LockActivity.State.HELD, holder.owner, holder.since,
                                holder.count, session.backendPid));
                    }
                }
            } finally {
                state.mutex.unlock();
            }
        }
        transactionHolds().addTo(activity);
        IdentityHashMap<Holder, Integer> inServer = server.waitingBackends();
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
    boolean admit(Holder holder, boolean mayWait, long deadline) throws InterruptedException {
        KeyState state = keys.enter(holder.key);
        Admission admission;
        try {
            admission = admitInJvm(state, holder, mayWait, deadline);
        } finally {
            keys.leave(state);
        }
        // a state in ACQUIRING stays in the table without users: only this thread moves it on
        return admission == Admission.TO_SERVER ? acquireOnServer(state, holder, mayWait, deadline)
                : admission == Admission.HELD;
    }

    /** What the handles of this JVM decided for an acquisition, before any statement. */
    private enum Admission {
        HELD, NOT_HELD, TO_SERVER
    }

    /**
     * Decides an acquisition with the key's mutex held, letting it go and re-taking it to wait or to
     * ask the server: a re-entry or a shared join holds at once; a free key goes to the server in
     * phase ACQUIRING, so that other handles wait for its outcome; otherwise the caller waits for a
     * change, if it may, or is answered at once.
     */
    @SuppressWarnings("NonAtomicVolatileUpdate") // count changes under the key's lock; volatile for isHeld()
    private Admission admitInJvm(KeyState state, Holder holder, boolean mayWait, long deadline)
            throws InterruptedException {
        // the holding session on which a shared join last asked the server, and what it answered
        Session asked = null;
        boolean exclusiveQueued = false;
        while (true) {
            if (state.isHeldBy(holder)) {
                holder.count++;
                return Admission.HELD;
            }
            boolean quickOpInFlight = false;
            switch (state.phase()) {
                case FREE -> {
                    state.beginAcquire(holder.mode, mayWait);
                    return Admission.TO_SERVER;
                }
                case HELD -> {
                    if (holder.mode == LockMode.SHARED && state.mode() == LockMode.SHARED) {
                        Session holding = Objects.requireNonNull(state.session(), "a held key has a session");
                        if (asked != holding) {
                            // PostgreSQL queues a new shared request behind a waiting exclusive one; a join
                            // must wait too, or this registry's readers could keep a writer out for ever
                            state.mutex.unlock();
                            try {
                                exclusiveQueued = server.exclusiveQueued(holding, holder);
                            } finally {
                                state.mutex.lock();
                            }
                            asked = holding;
                            continue;
                        }
                        if (!exclusiveQueued) {
                            state.join(holder);
                            granted(holder);
                            return Admission.HELD;
                        }
                    }
                }
                case ACQUIRING -> quickOpInFlight = !state.acquireMayWait();
                case RELEASING -> quickOpInFlight = true;
            }
            if (quickOpInFlight && !mayWait) {
                state.changed.await();
            } else if (!mayWait) {
                return Admission.NOT_HELD;
            } else {
                long nanos = Timeouts.remaining(deadline);
                if (nanos == 0) {
                    return Admission.NOT_HELD;
                }
                if (nanos == Long.MAX_VALUE) {
                    state.changed.await();
                } else {
                    state.changed.awaitNanos(nanos);
                }
                asked = null;
            }
        }
    }

    /** Called in phase ACQUIRING without the mutex; settles the phase before returning. */
    @SuppressWarnings("Finally") // a close or a lost connection met while settling is what the caller must hear
    private boolean acquireOnServer(KeyState state, Holder holder, boolean mayWait, long deadline)
            throws InterruptedException {
        Session session = null;
        boolean interrupted = false;
        try {
            session = server.tryLock(state, holder);
            if (session == null && mayWait && Timeouts.remaining(deadline) > 0) {
                session = server.waitFor(state, holder, deadline);
            }
            return session != null;
        } catch (InterruptedException e) {
            interrupted = true;
            throw e;
        } finally {
            boolean closed;
            state.mutex.lock();
            try {
                closed = pool.isClosed();
                if (session != null && !session.broken && !closed) {
                    state.acquired(session, holder);
                    granted(holder);
                } else {
                    if (session != null) {
                        session.held.remove(state);
                    }
                    keys.free(state);
                }
            } finally {
                state.mutex.unlock();
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

    /**
     * Issues the token on the session that holds the key, without the key's mutex, then keeps it
     * if the same hold is still on: a hold released or lost meanwhile gets none. Two threads asking
     * for one hold at once may both issue; the first kept is the one every call answers.
     */
    @Override
    long fencingToken(Holder holder) {
        FencingSequence sequence = fencing;
        if (sequence == null) {
            throw fencingOff(holder.name);
        }
        Session session;
        long hold;
        KeyState state = keys.enter(holder.key);
        try {
            if (!state.isHeldBy(holder)) {
                throw holder.noToken();
            }
            if (holder.hasToken()) {
                return holder.token;
            }
            session = Objects.requireNonNull(state.session(), "a held key has a session");
            hold = holder.holds;
        } finally {
            keys.leave(state);
        }
        long token = server.fencingToken(session, holder, sequence);
        state = keys.enter(holder.key);
        try {
            if (!state.isHeldBy(holder) || holder.holds != hold) {
                throw holder.noToken();
            }
            return holder.hasToken() ? holder.token : holder.keepToken(token);
        } finally {
            keys.leave(state);
        }
    }

    @Override
    List<Integer> grantedPairs(String name, int classId, int from, int to) throws InterruptedException {
        return server.grantedPairs(name, classId, from, to);
    }

    @Override
    int trackedKeys() {
        return keys.size();
    }

    @Override
    int openConnections() {
        return pool.openConnections() + server.wakeupConnections();
    }

    @Override
    void housekeep() {
        pool.housekeep();
        server.housekeep(pool.idleTimeoutNanos());
    }

    @Override
    LeaseBounds leaseBounds() {
        return pool.leaseBounds();
    }

    /** Cancels waits, forgets holders, and unlocks and returns every connection; a busy one is aborted after {@code patience}. */
    @Override
    void close(Duration patience) {
        List<Session> sessions = pool.closeAndDrain();
        server.abandonWaits();
        forgetAll();
        sessions.forEach(session -> pool.retire(session, patience));
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
        KeyState state = keys.enter(holder.key);
        Session session;
        LockMode mode;
        OpenSection section;
        try {
            if (!state.isHeldBy(holder)) {
                return holder.notHeld();
            }
            holder.count--;
            if (holder.count > 0) {
                return true;
            }
            section = letGo(holder);
            mode = state.mode();
            // RELEASING from here: the state stays in the table until this thread frees it
            session = state.beginRelease(holder);
        } finally {
            keys.leave(state);
        }
        if (session == null) {
            OpenSection.endIfAny(section, null);
            return true;
        }
        LockException failure = null;
        try {
            if (!server.unlock(session, state, holder.key, mode)) {
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
                keys.free(state);
            } finally {
                state.mutex.unlock();
            }
        }
        OpenSection.endIfAny(section, failure instanceof LockLostException lost ? lost : null);
        if (failure instanceof LockLostException lost) {
            losses.tell(holder, lost);
        }
        if (failure != null) {
            throw failure;
        }
        return true;
    }

    /** Forgets every holder, for a registry being closed; the sessions are unlocked by the caller. */
    private void forgetAll() {
        List<@Nullable OpenSection> sections = new ArrayList<>();
        for (KeyState state : List.copyOf(keys.states())) {
            state.mutex.lock();
            try {
                if (state.phase() != KeyState.Phase.HELD) {
                    // an acquirer or releaser in flight settles the state itself and sees the registry closed
                    continue;
                }
                for (Holder holder : state.holders()) {
                    sections.add(letGo(holder));
                    holder.releasedByClose = true;
                }
                keys.free(state);
            } finally {
                state.mutex.unlock();
            }
        }
        sections.forEach(section -> OpenSection.endIfAny(section, null));
    }
}
