package dev.pals.spring.integration;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.LockRegistry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One advisory lock as a {@link Lock}: a {@link ReentrantLock} decides between the threads of this
 * JVM and counts re-entry, and the thread that takes it first takes the advisory lock, which the
 * last unlock releases.
 */
final class ThreadOwnedLock implements Lock {

    private final AdvisoryLock advisory;
    private final ReentrantLock local = new ReentrantLock();
    /** When it was last taken or let go, for {@link AdvisoryLockRegistry#expireUnusedOlderThan}. */
    private volatile long lastUsedMillis = System.currentTimeMillis();

    ThreadOwnedLock(AdvisoryLock advisory) {
        this.advisory = advisory;
    }

    /** Waits without limit, in the server; an interrupt is kept and the wait goes on, as the contract says. */
    @Override
    public void lock() {
        boolean interrupted = false;
        while (true) {
            try {
                lockInterruptibly();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void lockInterruptibly() throws InterruptedException {
        local.lockInterruptibly();
        if (!acquireFirst(LockRegistry.FOREVER)) {
            throw new IllegalStateException("Lock '" + advisory.name() + "' was not held on re-entry");
        }
    }

    @Override
    public boolean tryLock() {
        if (!local.tryLock()) {
            return false;
        }
        try {
            return acquireFirst(Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Override
    public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(time);
        if (!local.tryLock(time, unit)) {
            return false;
        }
        Duration left = Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
        // a wait longer than PostgreSQL's limit is, for all purposes, a wait without limit
        return acquireFirst(left.compareTo(LockRegistry.LONGEST_WAIT) > 0 ? LockRegistry.FOREVER : left);
    }

    /**
     * With the JVM's lock held by this thread: takes the advisory lock on first entry, or checks it
     * is still held on re-entry. Gives the JVM's hold back when it answers false or throws.
     *
     * @throws dev.pals.LockLostException on re-entry into a lock whose session ended: the holder
     *     must unlock, which frees the handle to take the lock again (Spring Integration's leader
     *     initiator does, and revokes)
     */
    private boolean acquireFirst(Duration timeout) throws InterruptedException {
        boolean acquired = false;
        lastUsedMillis = System.currentTimeMillis();
        try {
            if (local.getHoldCount() > 1) {
                if (!advisory.isHeld()) {
                    // throws the loss, once; the handle is then free to take the lock again
                    advisory.release();
                }
                acquired = advisory.isHeld();
            } else {
                acquired = timeout.isZero() ? advisory.tryAcquire() : advisory.tryAcquire(timeout);
            }
            return acquired;
        } catch (AcquireFailureException e) {
            if (e.reason() == AcquireFailureException.Reason.INTERRUPTED) {
                throw (InterruptedException) new InterruptedException(e.getMessage()).initCause(e);
            }
            throw e;
        } finally {
            if (!acquired) {
                local.unlock();
            }
        }
    }

    /**
     * Releases one hold; the last releases the advisory lock.
     *
     * @throws IllegalMonitorStateException if this thread does not hold it
     * @throws dev.pals.LockLostException if the lock was lost while held
     */
    @Override
    public void unlock() {
        if (!local.isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException("Lock '" + advisory.name() + "' is not held by this thread");
        }
        try {
            if (local.getHoldCount() == 1) {
                advisory.release();
            }
        } finally {
            lastUsedMillis = System.currentTimeMillis();
            local.unlock();
        }
    }

    /** Whether no thread holds or waits for it, and nobody has used it since {@code millis}. */
    boolean unusedSince(long millis) {
        return !local.isLocked() && !local.hasQueuedThreads() && lastUsedMillis < millis;
    }

    /** Not supported: a condition cannot span the instances the lock excludes. */
    @Override
    public Condition newCondition() {
        throw new UnsupportedOperationException("Advisory locks have no conditions");
    }

    @Override
    public String toString() {
        return "ThreadOwnedLock[" + advisory + "]";
    }
}
