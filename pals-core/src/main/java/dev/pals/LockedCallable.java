package dev.pals;

import org.jspecify.annotations.Nullable;

/**
 * Work to run while a lock is held, for {@link LockRegistry#executeLocked}. It may throw any
 * exception, which reaches the caller unchanged after the lock is released.
 *
 * @param <T> the result, which may be {@code null} (for work run for its effect)
 * @param <E> what the work may throw
 */
@FunctionalInterface
public interface LockedCallable<T extends @Nullable Object, E extends Throwable> {

    /** Does the work. */
    T call() throws E;
}
