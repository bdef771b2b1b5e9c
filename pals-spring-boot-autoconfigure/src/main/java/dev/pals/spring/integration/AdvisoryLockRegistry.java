package dev.pals.spring.integration;

import dev.pals.LockRegistry;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Lock;

/**
 * Spring Integration's {@code LockRegistry} on PostgreSQL advisory locks, so that
 * {@code LockRegistryLeaderInitiator}, {@code LockRequestHandlerAdvice} and
 * {@code executeLocked} exclude across instances without a lock table or polling. The key's
 * {@code toString()} is the lock's name in the registry's namespace.
 *
 * <p>The locks are {@link Lock}s as Spring Integration expects: owned by the thread that took
 * them and re-entrant, with the same {@code Lock} for the same key. A re-entrant {@code tryLock}
 * of a lock whose session ended fails, which is how the leader initiator notices a lost lock.
 */
public final class AdvisoryLockRegistry implements org.springframework.integration.support.locks.LockRegistry<Lock> {

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
}
