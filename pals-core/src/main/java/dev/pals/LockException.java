package dev.pals;

import org.jspecify.annotations.Nullable;

/**
 * Base of every exception this library throws about locks. Unchecked: a lock failure is an
 * outcome the caller decides how to handle, usually far from the call that took the lock.
 */
public class LockException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** An exception with a message that says what happened and what to do. */
    public LockException(String message) {
        super(message);
    }

    /** An exception with a message that says what happened and what to do, and its cause. */
    public LockException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}
