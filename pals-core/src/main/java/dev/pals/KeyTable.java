package dev.pals;

import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@link KeyState}s of one registry, one per key that is held or has a thread deciding on it.
 * A state stays in the table while it has users (threads between {@link #enter} and
 * {@link #leave}) or is not FREE; otherwise it is retired and dropped, so the table holds no more
 * than what is in use. A thread that finds a retired state looks the key up again, so two states
 * never stand for one key.
 */
final class KeyTable {

    private final ConcurrentHashMap<LockKey, KeyState> states = new ConcurrentHashMap<>();

    /**
     * Returns the key's state with its mutex held, counted as used: the caller gives both back with
     * {@link #leave}, and may let the mutex go and re-take it in between.
     */
    @SuppressWarnings("LockNotBeforeTry") // the mutex is handed to the caller, who gives it back with leave()
    KeyState enter(LockKey key) {
        while (true) {
            KeyState state = states.computeIfAbsent(key, KeyState::new);
            state.mutex.lock();
            if (!state.retired) {
                state.users++;
                return state;
            }
            state.mutex.unlock();
        }
    }

    /** Counts the caller out and lets the mutex go; a FREE state without users leaves the table. */
    void leave(KeyState state) {
        state.users--;
        dropIfUnused(state);
        state.mutex.unlock();
    }

    /** Frees the key ({@link KeyState#free}) and drops it if nobody uses it; called with the mutex held. */
    void free(KeyState state) {
        state.free();
        dropIfUnused(state);
    }

    /** The states now, for a walk that takes each one's mutex in turn. */
    Collection<KeyState> states() {
        return states.values();
    }

    int size() {
        return states.size();
    }

    private void dropIfUnused(KeyState state) {
        assert state.mutex.isHeldByCurrentThread();
        if (state.users == 0 && state.phase() == KeyState.Phase.FREE) {
            state.retired = true;
            states.remove(state.key, state);
        }
    }
}
