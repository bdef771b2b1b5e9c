package dev.pals;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * A handle on a cluster-wide counting semaphore, from {@link LockRegistry#semaphore}: at most
 * {@link #permits()} holders at once across every instance and process that uses the name.
 *
 * <pre>{@code
 * AdvisorySemaphore exports = registry.semaphore("exports", 2);
 * try (HeldPermit permit = exports.hold()) {
 *     // at most two of these run at once in the whole cluster
 * }
 * }</pre>
 *
 * <p><b>Permits are locks.</b> Permit {@code i} is the session-level advisory lock on the pair key
 * {@code (classid, i)}, where {@code classid} is {@link LockKey#classId()} of the name's lock key
 * ({@code LockKey.of(namespace, name)}). So each permit is held, multiplexed, checked for loss and
 * freed by a crash exactly as a lock of {@link LockRegistry#lock} is, and the permits in use are the
 * rows of {@code pg_locks} with that {@code classid}, {@code objsubid = 2} and
 * {@code objid < permits}.
 *
 * <p><b>Observed</b> as one semaphore: the {@link LockObserver}s are told of one acquisition per
 * call, of a lock named {@code name} in the group {@code name}, with the outcome the caller saw
 * (ACQUIRED, CONTENDED when no permit was free and it did not wait, TIMED_OUT, FAILED, an interrupt
 * included), and of one critical section per permit held; a waiting call counts in
 * {@link LockRegistry#waitingLocks()} and a held permit once in {@link LockRegistry#heldLocks()}.
 * The activity snapshot shows each permit held as the lock {@code "name [permit i of N]"}; the count
 * and queue locks are not shown, and neither their acquisitions nor their losses are told.
 *
 * <p><b>Contention.</b> An acquisition tries each permit once without waiting, starting at a
 * random one. If none is free and it may wait, it queues in the server on the semaphore's queue
 * lock ({@code objid} {@value #QUEUE}), where PostgreSQL keeps the waiters of every instance in
 * arrival order; only the head of that queue looks for a free permit again: at once when this
 * handle releases one, and otherwise after a back-off of at most 100 ms, which is how it notices
 * a permit freed elsewhere (by another process, or by a crash). "This handle" is any handle of the
 * same registry on the same name and number of permits: they share one state, so a release by one
 * wakes the head of the queue waiting on another. A caller that arrives while a permit
 * is free takes it without queueing, as a non-fair {@link java.util.concurrent.Semaphore} does.
 *
 * <p><b>Agreement.</b> Every instance must give the name the same number of permits. While it
 * holds a permit, an acquisition also holds the shared lock {@code (classid, }{@value #MARKER_BASE}
 * {@code + permits)}, taken before it looks at the permits; if {@code pg_locks} then shows that
 * lock for another count, the acquisition throws {@link IllegalStateException} naming both counts
 * and holds nothing (while the registry holds a permit of the semaphore, through any handle, the
 * check is skipped: its count lock has been held since that permit's own). Two instances that
 * disagree can therefore never hold permits at once, as long as their count locks are not lost: a
 * count lock lost while its permit is held (its session ended, the permit's did not) is logged as
 * a warning when the permit is given back, and the registry's next acquisition checks again.
 *
 * <p><b>Ownership.</b> The handle holds the permits, not the thread: one thread may acquire and
 * another release, and one handle may hold several permits (one per acquisition), shared by the
 * threads that use it. {@link #release()} gives back one of them; {@link HeldPermit#close()}
 * gives back its own.
 *
 * <p><b>Interrupt.</b> An interrupted wait stops, cancels its wait in the server and holds
 * nothing. <b>Loss.</b> If the session of a held permit ends, the registry notices within its
 * loss-check interval: {@link #isHeld()} no longer counts it, the registry's
 * {@link LockLossListener}s are told (of lock {@code "name [permit i of N]"}), and the release of that
 * permit throws {@link LockLostException}. <b>Close.</b> Closing the registry releases every
 * permit; later calls throw {@link IllegalStateException}.
 *
 * <p>Handles are thread-safe; each permit held takes one lock of the registry's connections.
 */
public final class AdvisorySemaphore {

    /** The most permits a semaphore may have: an acquisition may try each of them. */
    public static final int MAX_PERMITS = 10_000;

    /** The {@code objid} of the count lock is this plus the permits. */
    static final int MARKER_BASE = 1_000_000_000;

    /** The {@code objid} of the lock waiters queue on. */
    static final int QUEUE = 2_000_000_000;

    private static final long MIN_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
    private static final long MAX_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final LockRegistry registry;
    /** Shared by every handle of the registry on this name and count. */
    private final SemaphoreState state;
    private final boolean blocking;
    private final Duration timeout;

    AdvisorySemaphore(LockRegistry registry, SemaphoreState state, boolean blocking, Duration timeout) {
        this.registry = registry;
        this.state = state;
        this.blocking = blocking;
        this.timeout = timeout;
    }

    /** Refuses a number of permits out of range, before any state is made for it. */
    static void checkPermits(String name, int permits) {
        if (permits < 1 || permits > MAX_PERMITS) {
            throw new IllegalArgumentException("Semaphore '" + name + "' must have between 1 and " + MAX_PERMITS
                    + " permits, but was given " + permits);
        }
    }

    /** The name this semaphore was created with. */
    public String name() {
        return state.name;
    }

    /** How many holders it lets in at once. */
    public int permits() {
        return state.permits;
    }

    /** The {@code classid} of its permits in {@code pg_locks}. */
    public long classId() {
        return state.classId & 0xFFFF_FFFFL;
    }

    /** Whether {@link #acquire()} and {@link #hold()} wait by default (the registry's default). */
    public boolean isBlocking() {
        return blocking;
    }

    /** How long {@link #acquire()} and {@link #hold()} wait by default (the registry's default). */
    public Duration timeout() {
        return timeout;
    }

    /**
     * Takes a permit if one is free now; never waits for a holder. One round trip per permit tried,
     * plus two to take the count lock and check agreement when the registry holds no permit of
     * the semaphore yet.
     *
     * @return whether this handle now holds one more permit
     * @throws AcquireFailureException with reason INTERRUPTED if the thread was interrupted, also
     *     by an interrupt pending before the call; the interrupt status is set again
     * @throws IllegalStateException if another instance uses the name with another number of
     *     permits, if the registry is closed, or if it is closing gracefully
     * @throws LockException if the server failed; nothing more is then held
     */
    public boolean tryAcquire() {
        try {
            return take(false, 0) != null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw failure(AcquireFailureException.Reason.INTERRUPTED, null, e);
        }
    }

    /**
     * Takes a permit, waiting at most {@code timeout} for one to be free. The wait happens in the
     * server, in the semaphore's queue, which PostgreSQL serves in arrival order across instances
     * (see the class comment). {@code Duration.ZERO} does not wait; {@link LockRegistry#FOREVER}
     * waits without limit. If the registry is closed during the wait, the wait is cancelled and
     * {@link IllegalStateException} is thrown.
     *
     * @return whether this handle now holds one more permit; {@code false} once the timeout passed
     * @throws InterruptedException if the thread was interrupted while waiting, or before the call;
     *     the server wait is cancelled and nothing more is held
     * @throws IllegalStateException if another instance uses the name with another number of
     *     permits, if the registry is closed, or if it is closing gracefully
     * @throws LockException if the server or connection failed; nothing more is then held
     * @throws IllegalArgumentException if the timeout is negative or too long
     */
    public boolean tryAcquire(Duration timeout) throws InterruptedException {
        Timeouts.check(timeout, "timeout");
        boolean mayWait = !timeout.isZero();
        return take(mayWait, mayWait ? Timeouts.deadline(timeout) : 0) != null;
    }

    /**
     * Takes a permit with the registry's defaults: {@link #tryAcquire(Duration)} with
     * {@link #timeout()} when {@link #isBlocking()}, else {@link #tryAcquire()}.
     *
     * @return whether this handle now holds one more permit
     * @throws InterruptedException if interrupted while waiting; nothing more is then held
     */
    public boolean acquire() throws InterruptedException {
        return tryAcquire(blocking ? timeout : Duration.ZERO);
    }

    /**
     * Takes a permit with the registry's defaults, or throws: the form for try-with-resources.
     *
     * @return the permit, given back on {@link HeldPermit#close()}
     * @throws AcquireFailureException if no permit was obtained, with the reason: contended, timed
     *     out, or interrupted (the interrupt status is set again); its message names the semaphore
     *     and its number of permits
     */
    public HeldPermit hold() {
        return hold(blocking ? timeout : Duration.ZERO);
    }

    /**
     * Takes a permit waiting at most {@code timeout}, or throws: the form for try-with-resources.
     *
     * @return the permit, given back on {@link HeldPermit#close()}
     * @throws AcquireFailureException if no permit was obtained, with the reason; its message names
     *     the semaphore and its number of permits
     */
    public HeldPermit hold(Duration timeout) {
        Timeouts.check(timeout, "timeout");
        boolean mayWait = !timeout.isZero();
        HeldPermit permit;
        try {
            permit = take(mayWait, mayWait ? Timeouts.deadline(timeout) : 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw failure(AcquireFailureException.Reason.INTERRUPTED, null, e);
        }
        if (permit == null) {
            throw mayWait
                    ? failure(AcquireFailureException.Reason.TIMED_OUT, "waited " + Timeouts.describe(timeout), null)
                    : failure(AcquireFailureException.Reason.CONTENDED, null, null);
        }
        return permit;
    }

    /**
     * Gives back one permit this handle holds (one whose loss is not yet reported first). Never
     * waits for other holders.
     *
     * @return {@code true} if this handle held a permit, {@code false} if it held none
     * @throws LockLostException if the permit was lost while held (reported once)
     * @throws IllegalStateException if the registry is closed (its permits were released then)
     */
    public boolean release() {
        registry.engine();
        while (true) {
            HeldPermit chosen = null;
            for (int i = 0; i < state.permits; i++) {
                if (state.owners.get(i) instanceof HeldPermit permit && permit.semaphore() == this) {
                    if (!permit.slotHeld()) {
                        chosen = permit;
                        break;
                    }
                    if (chosen == null) {
                        chosen = permit;
                    }
                }
            }
            if (chosen == null) {
                return false;
            }
            if (release(chosen)) {
                return true;
            }
        }
    }

    /**
     * Whether this handle holds at least one permit. Answered in the JVM, without a round trip: a
     * permit stops counting when the registry notices its session ended.
     */
    public boolean isHeld() {
        return heldPermits() > 0;
    }

    /** How many permits this handle holds now (not counting those of other handles). */
    public int heldPermits() {
        int held = 0;
        for (int i = 0; i < state.permits; i++) {
            if (state.owners.get(i) instanceof HeldPermit permit && permit.semaphore() == this && permit.slotHeld()) {
                held++;
            }
        }
        return held;
    }

    @Override
    public String toString() {
        return "AdvisorySemaphore[" + name() + ", " + permits() + " permits, classid " + classId() + ", "
                + heldPermits() + " held here]";
    }

    /** Gives back {@code permit}; whether it was still this handle's. */
    boolean release(HeldPermit permit) {
        int slot = permit.slot();
        if (!state.owners.compareAndSet(slot, permit, SemaphoreState.BUSY)) {
            return false;
        }
        RuntimeException failure = null;
        try {
            state.slot(slot).release();
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            state.owners.set(slot, null);
        }
        // the count lock goes last: it must cover every moment a permit is held
        releaseCount(permit);
        state.released();
        if (failure != null) {
            throw failure;
        }
        return true;
    }

    /** Whether {@code permit} is still this handle's. */
    boolean owns(HeldPermit permit) {
        return state.owners.get(permit.slot()) == permit;
    }

    /** Whether the lock of {@code slot} is held. */
    boolean slotHeld(int slot) {
        return state.slotHeld(slot);
    }

    private AcquireFailureException failure(AcquireFailureException.Reason reason, @Nullable String detail,
            @Nullable Throwable cause) {
        return AcquireFailureException.forPermit(name(), permits(), reason, detail, cause);
    }

    /**
     * The permit taken, or {@code null} if none was free in time; the observers see it as one
     * acquisition of the semaphore.
     */
    private @Nullable HeldPermit take(boolean mayWait, long deadline) throws InterruptedException {
        AtomicReference<@Nullable HeldPermit> taken = new AtomicReference<>();
        registry.engine().observed(state.info, mayWait, null, null, () -> {
            taken.set(takeUnobserved(mayWait, deadline));
            return taken.get() != null;
        });
        return taken.get();
    }

    private @Nullable HeldPermit takeUnobserved(boolean mayWait, long deadline) throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException("interrupted before acquiring a permit of semaphore '" + name() + "'");
        }
        AdvisoryLock marker = state.marker();
        // nobody takes the count lock exclusively, so this waits only behind a foreign exclusive request
        if (!marker.tryAcquire(mayWait ? Timeouts.left(deadline) : Duration.ZERO)) {
            return null;
        }
        HeldPermit permit = null;
        try {
            if (!state.holdsAny()) {
                requireAgreement();
            }
            int slot = trySlots();
            if (slot < 0 && mayWait && Timeouts.remaining(deadline) > 0) {
                slot = queue(deadline);
            }
            if (slot >= 0) {
                permit = new HeldPermit(this, slot, marker);
                state.owners.set(slot, permit);
            }
            return permit;
        } finally {
            if (permit == null) {
                letGo(marker);
            }
        }
    }

    /** Refuses when a holder of this name uses another number of permits; called holding the count lock. */
    private void requireAgreement() throws InterruptedException {
        int permits = state.permits;
        List<Integer> counts = registry.engine().grantedPairs(name(), state.classId, MARKER_BASE + 1,
                MARKER_BASE + MAX_PERMITS);
        for (int count : counts) {
            if (count != MARKER_BASE + permits) {
                throw new IllegalStateException("Semaphore '" + name() + "' has " + permits + " permits here, but "
                        + "another holder uses it with " + (count - MARKER_BASE) + " permits (pg_locks shows its "
                        + "count lock, classid " + classId() + ", objid " + count + "); every instance must give a "
                        + "semaphore the same number of permits. No permit was acquired.");
            }
        }
    }

    /** Tries each permit no handle of this registry owns once, from a random one; the one taken, still BUSY, or -1. */
    private int trySlots() throws InterruptedException {
        int permits = state.permits;
        int start = ThreadLocalRandom.current().nextInt(permits);
        for (int k = 0; k < permits; k++) {
            int slot = (start + k) % permits;
            if (!state.owners.compareAndSet(slot, null, SemaphoreState.BUSY)) {
                continue;
            }
            boolean taken = false;
            try {
                taken = state.slot(slot).tryAcquire();
            } catch (AcquireFailureException e) {
                if (e.reason() == AcquireFailureException.Reason.INTERRUPTED) {
                    Thread.interrupted();
                    InterruptedException interrupted = new InterruptedException("interrupted while acquiring a "
                            + "permit of semaphore '" + name() + "'");
                    interrupted.initCause(e);
                    throw interrupted;
                }
                throw e;
            } finally {
                if (!taken) {
                    state.owners.set(slot, null);
                }
            }
            if (taken) {
                return slot;
            }
        }
        return -1;
    }

    /**
     * Waits in the semaphore's queue, then, at its head, for a permit: the one taken, still
     * BUSY, or -1 once the deadline passed.
     */
    private int queue(long deadline) throws InterruptedException {
        AdvisoryLock queue = state.queue();
        if (!queue.tryAcquire(Timeouts.left(deadline))) {
            return -1;
        }
        try {
            long retry = MIN_RETRY_NANOS;
            while (true) {
                long seen = state.releases();
                int slot = trySlots();
                if (slot >= 0) {
                    return slot;
                }
                long nanos = Timeouts.remaining(deadline);
                if (nanos == 0) {
                    return -1;
                }
                state.awaitRelease(seen, Math.min(retry, nanos));
                retry = Math.min(retry * 2, MAX_RETRY_NANOS);
            }
        } finally {
            letGo(queue);
        }
    }

    /**
     * Releases the count lock of a permit given back. Its loss is not the permit's, which stayed
     * exclusive; it only left the agreement uncovered, which {@link SemaphoreState#holdsAny} then
     * no longer relies on, so it is a warning rather than an exception. A close that raced this
     * release (a graceful close sees the registry idle once the permit's lock is gone) released it.
     */
    private void releaseCount(HeldPermit permit) {
        try {
            permit.marker().release();
        } catch (LockLostException e) {
            System.getLogger(AdvisorySemaphore.class.getName()).log(System.Logger.Level.WARNING,
                    () -> "The count lock of permit " + permit.slot() + " of semaphore '" + name() + "' ("
                            + permits() + " permits) was lost while the permit was held; the permit itself was "
                            + "not, and the next acquisition checks the count again: " + e.getMessage());
        } catch (IllegalStateException closed) {
            System.getLogger(AdvisorySemaphore.class.getName()).log(System.Logger.Level.DEBUG,
                    () -> "The count lock of semaphore '" + name() + "' was released by the registry's close: "
                            + closed.getMessage());
        }
    }

    /**
     * Releases a helper lock (the count or the queue) on a path that ends without a permit: its
     * loss was told already, and a close released it.
     */
    private static void letGo(AdvisoryLock lock) {
        try {
            lock.release();
        } catch (LockLostException | IllegalStateException e) {
            System.getLogger(AdvisorySemaphore.class.getName()).log(System.Logger.Level.DEBUG,
                    () -> "Letting go of '" + lock.name() + "': " + e.getMessage());
        }
    }
}
