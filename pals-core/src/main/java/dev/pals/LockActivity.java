package dev.pals;

import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * One handle's hold on a lock, or one acquisition waiting for it, as {@link LockRegistry#activity()}
 * saw it.
 *
 * @param lock the lock
 * @param state held or waiting
 * @param owner the thread that took the hold or is waiting, by name (a virtual thread without a
 *     name by its id)
 * @param since when the hold was first taken, or when the wait began
 * @param holdCount how many times the handle holds it; 0 while waiting
 * @param backendPid the PostgreSQL backend that holds the lock or waits in the server, as in
 *     {@code pg_locks.pid}; {@code null} while a waiter waits for another handle of this registry
 *     or for its turn at the server, and for waits on the caller's own connection
 */
public record LockActivity(LockInfo lock, State state, String owner, Instant since, int holdCount,
        @Nullable Integer backendPid) {

    /** Whether the lock is held or awaited. */
    public enum State {
        /** Held by a handle of this registry. */
        HELD,
        /** An acquisition that may wait has not been answered yet. */
        WAITING
    }

    /** The current thread's name, or {@code virtual-<id>} for a thread without one. */
    static String currentOwner() {
        Thread thread = Thread.currentThread();
        String name = thread.getName();
        return name.isEmpty() ? "virtual-" + thread.getId() : name;
    }
}
