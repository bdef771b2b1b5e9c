package dev.pals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * What this registry knows of one key: who holds it in this JVM, on which session, and whether
 * a server operation on it is in flight. Handles of one registry may share a session, and a
 * PostgreSQL session is re-entrant, so contention between them is decided here, not by the
 * server.
 *
 * <p>Every field but the key and the lock is guarded by {@link #mutex}, and only this class
 * touches them: each method below must be called with the mutex held, and asserts it. No I/O runs
 * under the mutex. The phases:
 * <ul>
 *   <li>FREE to ACQUIRING ({@link #beginAcquire}), then HELD ({@link #acquired}) or back to FREE
 *       ({@link #free}: not granted, or failed);
 *   <li>HELD stays HELD as shared holders {@link #join}, goes to RELEASING as the last holder lets go
 *       ({@link #beginRelease}), then to FREE once the server unlocked;
 *   <li>HELD to FREE when the session is lost or the registry closes.
 * </ul>
 * Every change of phase signals {@link #changed}. Whether the state may leave its
 * {@link KeyTable} ({@link #users}, {@link #retired}) is the table's bookkeeping, also under the
 * mutex.
 */
final class KeyState {

    enum Phase {
        /** Not held by this registry; the next acquirer goes to the server. */
        FREE,
        /** One acquirer is at the server; others wait for its outcome. */
        ACQUIRING,
        /** Held on {@link #session} by {@link #holders}. */
        HELD,
        /** The last holder is unlocking on the server; others wait for it (one round trip). */
        RELEASING
    }

    final LockKey key;
    final ReentrantLock mutex = new OrderedLock(OrderedLock.Level.KEY_MUTEX);
    /** Signalled at every change of phase. */
    final Condition changed = mutex.newCondition();

    private Phase phase = Phase.FREE;
    /** Whether the acquirer at the server may wait there, rather than only try. */
    private boolean acquireMayWait;
    private LockMode mode = LockMode.EXCLUSIVE;
    /** Identity set: several shared holders, or one exclusive. */
    private final List<Holder> holders = new ArrayList<>(1);
    private @Nullable Session session;
    /** Threads between {@link KeyTable#enter} and {@link KeyTable#leave}: a state with users stays in the table. */
    int users;
    /** Dropped from the table; a thread that finds it so looks the key up again. */
    boolean retired;

    KeyState(LockKey key) {
        this.key = key;
    }

    /**
     * Its key's hash, for the sets of held keys of the sessions ({@link Session#held}), where each
     * new state would otherwise get an identity hash; a state still equals only itself.
     */
    @Override
    public int hashCode() {
        return key.hashCode();
    }

    Phase phase() {
        assert mutex.isHeldByCurrentThread();
        return phase;
    }

    LockMode mode() {
        assert mutex.isHeldByCurrentThread();
        return mode;
    }

    /** Whether the acquirer now at the server may wait there: if not, its answer is one round trip away. */
    boolean acquireMayWait() {
        assert mutex.isHeldByCurrentThread();
        return acquireMayWait;
    }

    /** The session the key is held on, while HELD or RELEASING. */
    @Nullable Session session() {
        assert mutex.isHeldByCurrentThread();
        return session;
    }

    /** The holders while HELD; read-only, and only while the mutex is held. */
    List<Holder> holders() {
        assert mutex.isHeldByCurrentThread();
        return holders;
    }

    /** Whether the key is held on {@code session}, so that its loss is this key's loss. */
    boolean isHeldOn(Session session) {
        assert mutex.isHeldByCurrentThread();
        return phase == Phase.HELD && this.session == session;
    }

    boolean isHeldBy(Holder holder) {
        assert mutex.isHeldByCurrentThread();
        return Holder.in(holders, holder);
    }

    /** FREE to ACQUIRING: the caller goes to the server, without the mutex, and settles with {@link #acquired} or {@link #free}. */
    void beginAcquire(LockMode mode, boolean mayWait) {
        assert mutex.isHeldByCurrentThread() && phase == Phase.FREE;
        this.phase = Phase.ACQUIRING;
        this.mode = mode;
        this.acquireMayWait = mayWait;
    }

    /** ACQUIRING to HELD on {@code session}, by {@code holder}. */
    void acquired(Session session, Holder holder) {
        assert mutex.isHeldByCurrentThread() && phase == Phase.ACQUIRING;
        this.phase = Phase.HELD;
        this.session = session;
        holders.add(holder);
        changed.signalAll();
    }

    /** Adds a shared holder to a key held shared, on the same session. */
    void join(Holder holder) {
        assert mutex.isHeldByCurrentThread() && phase == Phase.HELD && mode == LockMode.SHARED;
        holders.add(holder);
    }

    /**
     * Takes {@code holder} out. If it was the last, HELD becomes RELEASING and the caller unlocks,
     * without the mutex, on the returned session, then calls {@link KeyTable#free}.
     *
     * @return the session to unlock on, or {@code null} if other holders remain
     */
    @Nullable Session beginRelease(Holder holder) {
        assert mutex.isHeldByCurrentThread() && phase == Phase.HELD;
        holders.removeIf(h -> h == holder);
        if (!holders.isEmpty()) {
            return null;
        }
        phase = Phase.RELEASING;
        return session;
    }

    /** Back to FREE from any phase, forgetting holders and session; wakes every waiter. */
    void free() {
        assert mutex.isHeldByCurrentThread();
        holders.clear();
        phase = Phase.FREE;
        session = null;
        changed.signalAll();
    }
}
