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
 * server. All fields are guarded by {@link #mutex}; no I/O runs under it.
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
    final ReentrantLock mutex = new ReentrantLock();
    final Condition changed = mutex.newCondition();

    Phase phase = Phase.FREE;
    /** Whether the acquirer at the server may wait there, rather than only try. */
    boolean acquireMayWait;
    LockMode mode = LockMode.EXCLUSIVE;
    /** Identity set: several shared holders, or one exclusive. */
    final List<Holder> holders = new ArrayList<>(1);
    @Nullable Session session;
    /** Threads between {@code enter} and {@code leave}: a state with users is never dropped. */
    int users;
    /** Dropped from the table; a thread that finds it so looks the key up again. */
    boolean retired;

    KeyState(LockKey key) {
        this.key = key;
    }

    boolean isHeldBy(Holder holder) {
        return Holder.in(holders, holder);
    }

    void removeHolder(Holder holder) {
        holders.removeIf(h -> h == holder);
    }
}
