package dev.pals;

import java.sql.Connection;

/**
 * How a registry learns that the transaction holding a {@link TransactionLock} ended, which it
 * cannot see itself: PostgreSQL releases the lock at commit or rollback, over a connection the
 * caller owns. Given to {@link LockRegistry.Builder#transactionCompletion}; the Spring starter
 * gives one that registers with Spring's transaction synchronization. With one, each acquisition
 * that returns {@code true} counts in {@link LockRegistry#heldLocks()}, shows in
 * {@link LockRegistry#activity()} with its backend, is a critical section to the
 * {@link LockObserver}s, and is waited for by {@link LockRegistry#closeGracefully}, until the
 * transaction ends.
 */
@FunctionalInterface
public interface TransactionCompletion {

    /**
     * Arranges for {@code ended} to run once, after the current transaction of {@code connection}
     * commits or rolls back; called on the thread that took the lock, right after it did.
     *
     * @return whether {@code ended} will run; {@code false} if the end of this transaction cannot
     *     be seen, in which case the hold is not tracked
     */
    boolean afterCompletion(Connection connection, Runnable ended);
}
