package dev.pals;

/**
 * Work to run while a lock is held, for {@link LockRegistry#executeLocked}. It may throw any
 * exception, which reaches the caller unchanged after the lock is released.
 *
 * @param <T> the result
 * @param <E> what the work may throw
 */
@FunctionalInterface
public interface LockedCallable<T, E extends Throwable> {

    /** Does the work. */
    T call() throws E;
}
