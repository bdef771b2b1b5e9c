package dev.pals;

import org.jspecify.annotations.Nullable;

/**
 * A lock was lost while held: the PostgreSQL session that held it ended (the connection broke,
 * the backend was terminated, or the server restarted), so PostgreSQL freed it and another holder
 * may have entered the critical section. Thrown by {@link AdvisoryLock#release()} for the first
 * release after the loss, so that code which ran believing it held the lock learns it did not.
 */
public class LockLostException extends LockException {

    private static final long serialVersionUID = 1L;

    private final String lockName;

    /** A loss of {@code lockName}, with the connection failure that caused it. */
    public LockLostException(String lockName, String message, @Nullable Throwable cause) {
        super(message, cause);
        this.lockName = lockName;
    }

    /** The name of the lost lock, or its key for a lock taken by key. */
    public String lockName() {
        return lockName;
    }
}
