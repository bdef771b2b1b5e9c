package dev.pals;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * What every {@link AdvisorySemaphore} handle of one registry on one semaphore (a name and a
 * number of permits) shares, from {@link SemaphoreStates}: who owns each permit, the locks
 * behind them, and the wake-up of the queue's head when any handle gives a permit back. Shared, so
 * that a release by one handle wakes a waiter on another at once, and so that the agreement check
 * runs only when this registry goes from no permit of the semaphore held to one.
 */
final class SemaphoreState {

    /** The owner of a permit while one caller tries or releases it. */
    static final Object BUSY = new Object();

    final LockRegistry registry;
    final String name;
    final int permits;
    final int classId;
    /** What the observers, the waiting count and the activity snapshot know the semaphore as. */
    final LockInfo info;
    /** Per permit: null when no handle of this registry holds it, {@link #BUSY}, or the {@link HeldPermit}. */
    final AtomicReferenceArray<@Nullable Object> owners;
    /** The lock of each permit, made by the first caller that owns it, then reused under ownership. */
    private final @Nullable AdvisoryLock[] slots;
    /** Counts releases by every handle, so that the head of the queue misses none. */
    private final AtomicLong releases = new AtomicLong();
    private final ReentrantLock wake = new ReentrantLock();
    private final Condition released = wake.newCondition();

    SemaphoreState(LockRegistry registry, String name, LockKey nameKey, int permits) {
        this.registry = registry;
        this.name = name;
        this.permits = permits;
        this.classId = (int) nameKey.classId();
        this.info = new LockInfo(name, nameKey, LockMode.EXCLUSIVE, LockInfo.Scope.SESSION, name);
        this.owners = new AtomicReferenceArray<>(permits);
        this.slots = new AdvisoryLock[permits];
    }

    /** The lock of {@code slot}; called by its owner. Its section is the semaphore's. */
    AdvisoryLock slot(int slot) {
        AdvisoryLock lock = slots[slot];
        if (lock == null) {
            lock = inner(name + " [permit " + slot + " of " + permits + "]", slot, LockMode.EXCLUSIVE, info);
            slots[slot] = lock;
        }
        return lock;
    }

    /** Whether the lock of {@code slot} is held. */
    boolean slotHeld(int slot) {
        AdvisoryLock lock = slots[slot];
        return lock != null && lock.isHeld();
    }

    /**
     * A new handle on the count lock, one per permit: a loss of one permit's count lock then stays
     * that permit's, and this registry's server lock on the key lasts from the first permit's
     * agreement check to the last permit's release.
     */
    AdvisoryLock marker() {
        return inner(name + " [" + permits + " permits]", AdvisorySemaphore.MARKER_BASE + permits, LockMode.SHARED,
                null);
    }

    /** A new handle on the queue lock, one per waiter, so that waiters of this registry exclude each other. */
    AdvisoryLock queue() {
        return inner(name + " [queue]", AdvisorySemaphore.QUEUE, LockMode.EXCLUSIVE, null);
    }

    /**
     * Whether a handle of this registry holds a permit now with its count lock: the registry's
     * lock on the count key has then been held since that permit's check of {@code pg_locks}, so
     * a new permit under it needs no check of its own. A permit whose permit or count lock was
     * lost does not count, as its count lock no longer covers anyone.
     */
    boolean holdsAny() {
        for (int i = 0; i < permits; i++) {
            if (owners.get(i) instanceof HeldPermit permit && permit.slotHeld() && permit.marker().isHeld()) {
                return true;
            }
        }
        return false;
    }

    /** Releases so far, for {@link #awaitRelease}. */
    long releases() {
        return releases.get();
    }

    /** Tells the queue's head, whatever handle it waits on, that a permit was given back. */
    void released() {
        releases.incrementAndGet();
        wake.lock();
        try {
            released.signalAll();
        } finally {
            wake.unlock();
        }
    }

    /** Waits at most {@code nanos} for a release after the {@code seen}-th. */
    void awaitRelease(long seen, long nanos) throws InterruptedException {
        wake.lockInterruptibly();
        try {
            long left = nanos;
            while (releases.get() == seen && left > 0) {
                left = released.awaitNanos(left);
            }
        } finally {
            wake.unlock();
        }
    }

    /**
     * A lock the semaphore is made of, in its group; the observers see its section as
     * {@code reportedAs}, or nothing when null, and never its acquisitions.
     */
    private AdvisoryLock inner(String lockName, int objId, LockMode mode, @Nullable LockInfo reportedAs) {
        registry.engine();
        LockInfo lock = new LockInfo(lockName, LockKey.of(classId, objId), mode, LockInfo.Scope.SESSION, name);
        return new AdvisoryLock(registry, lock, reportedAs, false, false, Duration.ZERO);
    }
}
