package dev.pals.spring.integration;

import dev.pals.LockRegistry;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Lock;
import org.springframework.integration.support.locks.DistributedLock;
import org.springframework.integration.support.locks.ExpirableLockRegistry;
import org.springframework.integration.support.locks.RenewableLockRegistry;
import org.springframework.scheduling.TaskScheduler;

/**
 * Spring Integration's {@code LockRegistry} on PostgreSQL advisory locks, so that
 * {@code LockRegistryLeaderInitiator}, {@code LockRequestHandlerAdvice} and
 * {@code executeLocked} exclude across instances without a lock table or polling. The key's
 * {@code toString()} is the lock's name in the registry's namespace.
 *
 * <p>The locks are {@link DistributedLock}s as Spring Integration expects: owned by the thread
 * that took them and re-entrant, with the same lock for the same key until
 * {@link #expireUnusedOlderThan} forgets it. A waiting {@code lock} or {@code tryLock} waits in the
 * server and is granted the moment the holder lets go. A re-entrant {@code tryLock} of a lock whose
 * session ended throws {@link dev.pals.LockLostException}, which is how the leader initiator
 * notices a lost lock; unlocking then lets the thread take it again.
 *
 * <p><b>Time to live.</b> An advisory lock lasts until it is unlocked or its session ends (a
 * crashed instance frees its locks at once), so the {@link java.util.concurrent.locks.Lock}
 * methods take it without a bound, unlike {@code JdbcLockRegistry}, whose default ttl is 10 s.
 * {@link DistributedLock#lock(Duration)} and {@link DistributedLock#tryLock(Duration, Duration)}
 * bound the hold by their ttl: when it passes with the lock still held, this registry releases it,
 * logs a warning that names the lock, the ttl and how long it had been held, and the owner's
 * {@code unlock()} then throws {@link java.util.ConcurrentModificationException}, as
 * {@code JdbcLockRegistry} does for an expired lock (the thread no longer holds it afterwards).
 * The owner's unlock and the expiry never both release: whichever comes first does. A re-entry
 * with a ttl starts the bound over from then; one into an expired hold fails ({@code tryLock}
 * answers false, {@code lock} throws {@link IllegalStateException}) until the owner unlocks. A
 * ttl must be positive and at most {@link LockRegistry#LONGEST_WAIT}.
 *
 * <p>Source compatibility: the type parameter stays {@link Lock}, so declarations as
 * {@code LockRegistry<Lock>} or {@code ExpirableLockRegistry<Lock>} keep compiling;
 * {@link #obtain} answers a {@link DistributedLock} to callers who hold this class.
 */
public final class AdvisoryLockRegistry
        implements ExpirableLockRegistry<Lock>, RenewableLockRegistry<Lock>, AutoCloseable {

    private final LockRegistry registry;
    private final ConcurrentHashMap<String, ThreadOwnedLock> locks = new ConcurrentHashMap<>();
    private final TtlScheduler ttls = new TtlScheduler();

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
    public DistributedLock obtain(Object lockKey) {
        return locks.computeIfAbsent(lockKey.toString(),
                name -> new ThreadOwnedLock(registry.lock(name), ttls));
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

    /**
     * Starts the ttl of the calling thread's hold over, from now; nothing for a hold taken without
     * a ttl, which has no bound to renew. No round trip.
     *
     * @throws IllegalMonitorStateException if the calling thread does not hold the lock
     * @throws IllegalStateException if the ttl passed already and the lock was released, or the
     *     lock was lost with its session
     */
    @Override
    public void renewLock(Object lockKey) {
        held(lockKey).renew(null);
    }

    /**
     * Bounds the calling thread's hold by {@code ttl} from now, in place of its ttl so far (also
     * for a hold taken without one). No round trip.
     *
     * @throws IllegalMonitorStateException if the calling thread does not hold the lock
     * @throws IllegalStateException if the ttl passed already and the lock was released, or the
     *     lock was lost with its session
     * @throws IllegalArgumentException if the ttl is not positive or too long
     */
    @Override
    public void renewLock(Object lockKey, Duration ttl) {
        TtlScheduler.check(ttl);
        held(lockKey).renew(ttl);
    }

    /**
     * Renews every hold for as long as it lasts, as {@code RedisLockRegistry} does with a renewal
     * scheduler: holds taken or renewed from then on have no ttl, and last until unlocked or until
     * their session ends. The scheduler itself is not used, since an advisory lock needs no
     * renewal round trips.
     */
    @Override
    public void setRenewalTaskScheduler(TaskScheduler renewalTaskScheduler) {
        ttls.renewAutomatically();
    }

    /**
     * Stops the ttls: holds still bounded are released only by their owner's unlock, or when the
     * PALs registry closes. Taking a lock with a ttl afterwards throws
     * {@link IllegalStateException}. Never waits.
     */
    @Override
    public void close() {
        ttls.close();
    }

    private ThreadOwnedLock held(Object lockKey) {
        ThreadOwnedLock lock = locks.get(lockKey.toString());
        if (lock == null) {
            // a lock this registry forgot, or never had, is held by no thread
            throw new IllegalMonitorStateException("Lock '" + lockKey + "' is not held by this thread");
        }
        return lock;
    }
}
