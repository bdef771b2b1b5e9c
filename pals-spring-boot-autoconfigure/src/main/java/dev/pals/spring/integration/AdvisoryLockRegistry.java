package dev.pals.spring.integration;

import dev.pals.LockRegistry;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Lock;
import org.springframework.integration.support.locks.ExpirableLockRegistry;

/**
 * Spring Integration's {@code LockRegistry} on PostgreSQL advisory locks, so that
 * {@code LockRegistryLeaderInitiator}, {@code LockRequestHandlerAdvice} and
 * {@code executeLocked} exclude across instances without a lock table or polling. The key's
 * {@code toString()} is the lock's name in the registry's namespace.
 *
 * <p>The locks are {@link Lock}s as Spring Integration expects: owned by the thread that took
 * them and re-entrant, with the same {@code Lock} for the same key until
 * {@link #expireUnusedOlderThan} forgets it. A re-entrant {@code tryLock} of a lock whose session
 * ended throws {@link dev.pals.LockLostException}, which is how the leader initiator notices a lost
 * lock; unlocking then lets the thread take it again.
 */
public final class AdvisoryLockRegistry implements ExpirableLockRegistry<Lock> {

    private final LockRegistry registry;
    private final ConcurrentHashMap<String, ThreadOwnedLock> locks = new ConcurrentHashMap<>();

    /** Spring Integration locks on {@code registry}. */
    public AdvisoryLockRegistry(LockRegistry registry) {
        this.registry = registry;
    }

    /**
     * The lock named by {@code lockKey}'s text.
     *
     * @throws IllegalArgumentException if the text is blank
     */
    @Override
    public Lock obtain(Object lockKey) {
        return locks.computeIfAbsent(lockKey.toString(), name -> new ThreadOwnedLock(registry.lock(name)));
    }

    /**
     * Forgets the locks nobody holds or waits for and nobody used in the last {@code age}
     * milliseconds, so that per-message keys do not pile up. A thread still using a forgotten
     * {@code Lock} stays excluded: a new one for the same key is another handle of the same
     * registry, and handles exclude each other.
     */
    @Override
    public void expireUnusedOlderThan(long age) {
        long before = System.currentTimeMillis() - age;
        locks.values().removeIf(lock -> lock.unusedSince(before));
    }
}
