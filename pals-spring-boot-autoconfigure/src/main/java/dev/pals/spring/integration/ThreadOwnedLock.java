package dev.pals.spring.integration;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.LockRegistry;
import java.time.Duration;
import java.util.ConcurrentModificationException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;
import org.springframework.integration.support.locks.DistributedLock;

/**
 * One advisory lock as a {@link DistributedLock}: a {@link ReentrantLock} decides between the
 * threads of this JVM and counts re-entry, and the thread that takes it first takes the advisory
 * lock, which the last unlock releases, or the ttl's expiry if it comes first.
 *
 * <p>The owner's last unlock and the expiry race for the release through {@link #hold}: whoever
 * swaps it first releases, so the lock is released once, and is never left held.
 */
final class ThreadOwnedLock implements DistributedLock {

    /** The registry's logger: users configure one category for the Spring Integration bridge. */
    private static final Log LOG = LogFactory.getLog(AdvisoryLockRegistry.class);

    private final AdvisoryLock advisory;
    private final TtlScheduler ttls;
    private final ReentrantLock local = new ReentrantLock();
    /**
     * Held by an expiry from its swap to the end of its release, so that an unlock that saw the
     * expiry lets the JVM's lock go only after that release: a thread taking the lock next could
     * otherwise take it in the server on this handle (after a loss) and have it freed by the
     * expiry's late release.
     */
    private final ReentrantLock expiring = new ReentrantLock();
    /** {@link Plain#FREE}, {@link Plain#HELD} without a bound, a {@link Bound}, or {@link Expired}. */
    private final AtomicReference<State> hold = new AtomicReference<>(Plain.FREE);
    /** When the current hold began and by whom, for the report of an expiry. */
    private volatile long heldSinceNanos;
    private volatile String heldBy = "";
    /** When it was last taken or let go, for {@link AdvisoryLockRegistry#expireUnusedOlderThan}. */
    private volatile long lastUsedMillis = System.currentTimeMillis();

    ThreadOwnedLock(AdvisoryLock advisory, TtlScheduler ttls) {
        this.advisory = advisory;
        this.ttls = ttls;
    }

    /** Waits without limit, in the server; an interrupt is kept and the wait goes on, as the contract says. */
    @Override
    public void lock() {
        lockUninterruptibly(null);
    }

    @Override
    public void lock(Duration ttl) {
        lockUninterruptibly(TtlScheduler.check(ttl));
    }

    private void lockUninterruptibly(@Nullable Duration ttl) {
        boolean interrupted = false;
        while (true) {
            try {
                lockInterruptibly(ttl);
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
        lockInterruptibly(null);
    }

    private void lockInterruptibly(@Nullable Duration ttl) throws InterruptedException {
        local.lockInterruptibly();
        if (!acquireFirst(LockRegistry.FOREVER, ttl)) {
            throw new IllegalStateException("Lock '" + advisory.name() + "' was not held on re-entry"
                    + (hold.get() instanceof Expired ? ": it was released at its ttl; unlock it first" : ""));
        }
    }

    @Override
    public boolean tryLock() {
        if (!local.tryLock()) {
            return false;
        }
        try {
            return acquireFirst(Duration.ZERO, null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Override
    public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
        return tryLockNanos(unit.toNanos(time), null);
    }

    @Override
    public boolean tryLock(Duration waitTime, Duration ttl) throws InterruptedException {
        TtlScheduler.check(ttl);
        // a wait too long for nanoseconds is, for all purposes, a wait without limit
        long nanos = waitTime.compareTo(LockRegistry.LONGEST_WAIT) > 0 ? Long.MAX_VALUE : waitTime.toNanos();
        return tryLockNanos(nanos, ttl);
    }

    private boolean tryLockNanos(long nanos, @Nullable Duration ttl) throws InterruptedException {
        long deadline = System.nanoTime() + nanos;
        if (!local.tryLock(nanos, TimeUnit.NANOSECONDS)) {
            return false;
        }
        Duration left = Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
        // a wait longer than PostgreSQL's limit is, for all purposes, a wait without limit
        return acquireFirst(left.compareTo(LockRegistry.LONGEST_WAIT) > 0 ? LockRegistry.FOREVER : left, ttl);
    }

    /**
     * With the JVM's lock held by this thread: takes the advisory lock on first entry, or checks it
     * is still held on re-entry (a ttl given then starts over, as a renewal). Gives the JVM's hold
     * back when it answers false or throws.
     *
     * @throws dev.pals.LockLostException on re-entry into a lock whose session ended: the holder
     *     must unlock, which frees the handle to take the lock again (Spring Integration's leader
     *     initiator does, and revokes)
     */
    private boolean acquireFirst(Duration timeout, @Nullable Duration ttl) throws InterruptedException {
        boolean acquired = false;
        lastUsedMillis = System.currentTimeMillis();
        try {
            if (local.getHoldCount() > 1) {
                if (!advisory.isHeld()) {
                    // throws the loss, once; the handle is then free to take the lock again
                    advisory.release();
                }
                acquired = advisory.isHeld() && (ttl == null ? !(hold.get() instanceof Expired) : bind(ttl));
            } else {
                boolean taken = timeout.isZero() ? advisory.tryAcquire() : advisory.tryAcquire(timeout);
                if (taken) {
                    // may throw, having released it: the JVM's hold is then given back below
                    begin(ttl);
                }
                acquired = taken;
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

    /** Starts the hold just acquired, bounded by {@code ttl} if there is one. */
    private void begin(@Nullable Duration ttl) {
        heldSinceNanos = System.nanoTime();
        heldBy = Thread.currentThread().getName();
        hold.set(Plain.HELD);
        if (ttl != null) {
            try {
                bind(ttl);
            } catch (RuntimeException e) {
                // the registry is closed: no hold without the bound that was asked for
                hold.set(Plain.FREE);
                advisory.release();
                throw e;
            }
        }
    }

    /**
     * Bounds the current hold by {@code ttl} from now, in place of its bound so far; nothing when
     * the registry renews holds automatically.
     *
     * @return false if the hold already expired
     */
    private boolean bind(Duration ttl) {
        while (true) {
            State current = hold.get();
            if (current instanceof Expired || current == Plain.FREE) {
                return false;
            }
            State next = ttls.renewing() ? Plain.HELD : new Bound(ttl);
            if (hold.compareAndSet(current, next)) {
                if (current instanceof Bound before) {
                    before.cancel();
                }
                if (next instanceof Bound bound) {
                    // scheduled once it is the hold's state, so that its expiry finds it there
                    bound.task = ttls.schedule(() -> expire(bound), ttl);
                }
                return true;
            }
        }
    }

    /** On the ttl thread: releases the hold {@code bound} still bounds, and says so loudly. */
    private void expire(Bound bound) {
        expiring.lock();
        try {
            expireHolding(bound);
        } finally {
            expiring.unlock();
        }
    }

    private void expireHolding(Bound bound) {
        Duration heldFor = Duration.ofNanos(System.nanoTime() - heldSinceNanos);
        if (!hold.compareAndSet(bound, new Expired(bound.ttl, heldFor))) {
            return;
        }
        LOG.warn("Lock '" + advisory.name() + "' outlived its ttl of " + bound.ttl + ": thread '" + heldBy
                + "' has held it for " + heldFor + "; releasing it now, so another instance may take it while "
                + "that work still runs, and its unlock() will throw ConcurrentModificationException. Give it a "
                + "longer ttl, or renew it (renewLock) while the work runs.");
        try {
            advisory.release();
        } catch (RuntimeException e) {
            LOG.warn("Lock '" + advisory.name() + "' could not be released at its ttl", e);
        }
    }

    /**
     * Releases one hold; the last releases the advisory lock.
     *
     * @throws IllegalMonitorStateException if this thread does not hold it
     * @throws ConcurrentModificationException if it was released at its ttl meanwhile; the thread
     *     holds it no more
     * @throws dev.pals.LockLostException if the lock was lost while held
     */
    @Override
    public void unlock() {
        if (!local.isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException("Lock '" + advisory.name() + "' is not held by this thread");
        }
        try {
            if (local.getHoldCount() == 1) {
                State ended = hold.getAndSet(Plain.FREE);
                if (ended instanceof Expired expired) {
                    // waits out the expiry's release, one round trip bounded by the registry's network timeout
                    expiring.lock();
                    try {
                        throw new ConcurrentModificationException("Lock '" + advisory.name() + "' was released at "
                                + "its ttl of " + expired.ttl() + ", after it had been held for " + expired.heldFor()
                                + ": the integrity of the data it protects may have been compromised");
                    } finally {
                        expiring.unlock();
                    }
                }
                if (ended instanceof Bound bound) {
                    bound.cancel();
                }
                advisory.release();
            }
        } finally {
            lastUsedMillis = System.currentTimeMillis();
            local.unlock();
        }
    }

    /**
     * Bounds the hold of this thread by {@code ttl} from now, or by its own ttl again when
     * {@code ttl} is null (nothing for a hold without one).
     *
     * @throws IllegalMonitorStateException if this thread does not hold it
     * @throws IllegalStateException if the hold already expired, or the lock was lost
     */
    void renew(@Nullable Duration ttl) {
        if (!local.isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException("Lock '" + advisory.name() + "' is not held by this thread");
        }
        State current = hold.get();
        if (!advisory.isHeld() || current instanceof Expired) {
            throw new IllegalStateException("Could not renew lock '" + advisory.name() + "': "
                    + (current instanceof Expired expired ? "it was released at its ttl of " + expired.ttl()
                            : "its session ended"));
        }
        Duration next = ttl != null ? ttl : current instanceof Bound bound ? bound.ttl : null;
        if (next != null && !bind(next)) {
            throw new IllegalStateException("Could not renew lock '" + advisory.name() + "': it was released at its ttl");
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

    /** Where the current hold stands. */
    private sealed interface State permits Plain, Bound, Expired {}

    private enum Plain implements State {
        /** Not held. */
        FREE,
        /** Held without a bound. */
        HELD
    }

    /** Held until its ttl passes; each renewal is a new one, so a stale expiry finds its own gone. */
    private static final class Bound implements State {
        final Duration ttl;
        volatile @Nullable ScheduledFuture<?> task;

        Bound(Duration ttl) {
            this.ttl = ttl;
        }

        void cancel() {
            ScheduledFuture<?> scheduled = task;
            if (scheduled != null) {
                scheduled.cancel(false);
            }
        }
    }

    /** Released at its ttl while its owner still held it. */
    private record Expired(Duration ttl, Duration heldFor) implements State {}
}
