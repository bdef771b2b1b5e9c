package dev.pals;

import org.jspecify.annotations.Nullable;

/**
 * PostgreSQL's shared lock table is full (SQLSTATE 53200): the server cannot record one more
 * lock. Nothing was acquired. The table holds about {@code max_locks_per_transaction *
 * (max_connections + max_prepared_transactions)} locks across all sessions; raise
 * {@code max_locks_per_transaction} on the server (a restart is needed) or hold fewer locks.
 */
public class LockCapacityException extends LockException {

    private static final long serialVersionUID = 1L;

    /** The failure to record {@code lockName}, with the server's error. */
    public LockCapacityException(String lockName, @Nullable Throwable cause) {
        super("PostgreSQL's lock table is full (SQLSTATE 53200), so lock '" + lockName + "' was not acquired; "
                + "raise max_locks_per_transaction on the server (needs a restart) or hold fewer locks at once", cause);
    }
}
