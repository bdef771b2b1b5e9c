package dev.pals;

import org.jspecify.annotations.Nullable;

/**
 * The lock DataSource leads to a server that cannot give mutual exclusion with advisory locks:
 * not PostgreSQL, or a standby in recovery (whose advisory locks do not exclude clients of the
 * primary). The message says which and what to change.
 */
public class UnsupportedLockServerException extends LockException {

    private static final long serialVersionUID = 1L;

    /** A refusal, with a message that says why and what to change. */
    public UnsupportedLockServerException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}
