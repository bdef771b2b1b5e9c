package dev.pals;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * A handle on one advisory lock, from {@link LockRegistry#lock}. The handle, not the thread,
 * owns the lock: two handles on the same name exclude each other even in one thread, and a lock
 * taken on one thread may be released on another. Acquiring again while holding is counted and
 * needs as many releases, as PostgreSQL counts for a session.
 *
 * <p><b>Contention.</b> Handles of the same registry contend in the JVM, without a round trip;
 * handles elsewhere (other registries, processes, PostgreSQL sessions) contend in the server.
 * {@link #tryAcquire()} never waits for a holder; {@link #tryAcquire(Duration)} waits in the
 * server, which wakes it the moment the holder lets go.
 *
 * <p><b>Interrupt.</b> A waiting thread that is interrupted stops waiting, cancels its wait in the
 * server and holds nothing afterwards, even if the grant crossed the interrupt.
 *
 * <p><b>Connection loss.</b> Locks live as long as the PostgreSQL session that took them. If that
 * session ends (the connection breaks, the backend is terminated, the server restarts), the
 * registry notices within its loss-check interval: {@link #isHeld()} turns {@code false}, the
 * registry's {@link LockLossListener}s are called, and the next {@link #release()} throws
 * {@link LockLostException}.
 *
 * <p><b>Abandonment.</b> A handle that becomes unreachable while holding is released with a
 * warning that names the lock; do not rely on it, release in a {@code finally} or use
 * {@link #hold()} with try-with-resources.
 *
 * <p>Handles are thread-safe.
 */
public final class AdvisoryLock {

    private static final Cleaner CLEANER = Cleaner.create(runnable -> {
        Thread thread = new Thread(runnable, "pals-abandoned-lock-cleaner");
        thread.setDaemon(true);
        return thread;
    });

    private final LockRegistry registry;
    private final Holder holder;
    private final boolean blocking;
    private final Duration timeout;

    AdvisoryLock(LockRegistry registry, LockInfo info, boolean blocking, Duration timeout) {
        this(registry, info, info, true, blocking, timeout);
    }

    /**
     * A handle reported as {@code reportedAs} (see {@link Holder#reportedAs}), whose acquisitions
     * the observers are told of only if {@code observesAcquisition}: a semaphore's inner locks.
     */
    AdvisoryLock(LockRegistry registry, LockInfo info, @Nullable LockInfo reportedAs, boolean observesAcquisition,
            boolean blocking, Duration timeout) {
        this.registry = registry;
        this.holder = new Holder(info, reportedAs, observesAcquisition, this);
        this.blocking = blocking;
        this.timeout = timeout;
    }

    /**
     * Has {@code holder}'s lock released, with a warning, if {@code handle} becomes unreachable
     * before {@link Cleaner.Cleanable#clean()}. Registered for each first hold and cleaned at its
     * last release, not once per handle: a released handle then leaves nothing behind for the
     * collector to keep alive, where a registration per handle kept every handle's state until a
     * collection after the handle's own (a young collection copied them all).
     */
    static Cleaner.Cleanable watch(AdvisoryLock handle, Engine engine, Holder holder) {
        return CLEANER.register(handle, new Abandoned(engine, holder));
    }

    /** The name this handle was created with, or the key's text for a handle created by key. */
    public String name() {
        return holder.name;
    }

    /** The PostgreSQL key this handle locks. */
    public LockKey key() {
        return holder.key;
    }

    /** Exclusive or shared. */
    public LockMode mode() {
        return holder.mode;
    }

    /** The group this handle reports under in metrics and traces. */
    public String group() {
        return holder.info.group();
    }

    /** Whether {@link #acquire()} and {@link #hold()} wait by default. */
    public boolean isBlocking() {
        return blocking;
    }

    /** How long {@link #acquire()} and {@link #hold()} wait by default. */
    public Duration timeout() {
        return timeout;
    }

    /**
     * Acquires the lock if it is free now; never waits for a holder. One round trip to the
     * server, or none when another handle of this registry decides the question.
     *
     * @return whether this handle now holds the lock
     * @throws AcquireFailureException with reason INTERRUPTED if the thread was interrupted,
     *     also by an interrupt pending before the call; the interrupt status is set again
     * @throws LockException if the server failed; nothing is then held
     * @throws IllegalStateException if the registry is closed, or is closing gracefully and this
     *     handle does not hold the lock already
     */
    public boolean tryAcquire() {
        try {
            return registry.forAcquisition(holder).acquire(holder, false, 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AcquireFailureException(name(), mode(), AcquireFailureException.Reason.INTERRUPTED, null, e);
        } finally {
            // reachable until the hold is watched for abandonment (Holder#watch)
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Acquires the lock, waiting at most {@code timeout} for holders to let go. The wait happens
     * in the server under {@code lock_timeout}, so the lock is granted the moment it is free;
     * PostgreSQL grants waiting sessions in the order they arrived, while handles of this registry
     * that wait for each other are woken in no particular order. {@code Duration.ZERO} does not
     * wait; {@link LockRegistry#FOREVER} waits without limit. If the registry is closed during the
     * wait, the wait is cancelled and {@link IllegalStateException} is thrown.
     *
     * @return whether this handle now holds the lock; {@code false} once the timeout passed
     * @throws InterruptedException if the thread was interrupted while waiting, or before the call
     *     (also for a zero timeout, and even where this handle would have answered at once, as a
     *     re-entry); the server wait is
     *     cancelled and nothing more is held
     * @throws LockException if the server or connection failed, or the server's
     *     {@code statement_timeout} cut the wait short; nothing is then held
     * @throws IllegalStateException if the registry is closed, or is closed during the wait, or
     *     is closing gracefully and this handle does not hold the lock already
     * @throws IllegalArgumentException if the timeout is negative or too long
     */
    public boolean tryAcquire(Duration timeout) throws InterruptedException {
        Timeouts.check(timeout, "timeout");
        // zero does not wait, but answers an interrupt as every other timeout does: with InterruptedException
        boolean mayWait = !timeout.isZero();
        try {
            return registry.forAcquisition(holder).acquire(holder, mayWait, mayWait ? Timeouts.deadline(timeout) : 0);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Acquires with this handle's defaults: {@link #tryAcquire(Duration)} with {@link #timeout()}
     * when {@link #isBlocking()}, else {@link #tryAcquire()}.
     *
     * @return whether this handle now holds the lock
     * @throws InterruptedException if interrupted while waiting; nothing is then held
     */
    public boolean acquire() throws InterruptedException {
        return tryAcquire(blocking ? timeout : Duration.ZERO);
    }

    /**
     * Acquires with this handle's defaults, or throws: the form for try-with-resources.
     *
     * @return the hold, which releases on {@link HeldLock#close()}
     * @throws AcquireFailureException if the lock was not obtained, with the reason: contended,
     *     timed out, or interrupted (the interrupt status is set again)
     */
    public HeldLock hold() {
        return blocking ? hold(timeout) : hold(Duration.ZERO);
    }

    /**
     * Acquires waiting at most {@code timeout}, or throws: the form for try-with-resources.
     *
     * @return the hold, which releases on {@link HeldLock#close()}
     * @throws AcquireFailureException if the lock was not obtained, with the reason
     */
    public HeldLock hold(Duration timeout) {
        AcquireFailureException.requireAcquired(name(), mode(), timeout, () -> tryAcquire(timeout));
        return new HeldLock(this);
    }

    /**
     * Acquires with this handle's defaults without tying up the calling thread.
     *
     * @see #acquireAsync(Duration)
     */
    public CompletableFuture<Boolean> acquireAsync() {
        return acquireAsync(blocking ? timeout : Duration.ZERO);
    }

    /**
     * Acquires on a registry thread, waiting at most {@code timeout}; the caller's thread is free
     * at once. The future completes with whether the lock is held, or exceptionally as
     * {@link #tryAcquire(Duration)} would throw, or with {@link AcquireFailureException} of reason
     * CANCELLED if the registry's thread was interrupted. Cancelling the future cancels the wait in the
     * server; if the grant crossed the cancel, the lock is released, so a cancelled future never
     * leaves the lock held. At most {@link LockRegistry.Builder#maxAsyncThreads} acquisitions run
     * at once; further ones queue in order, the time queued counting against their timeout: one
     * still queued when its timeout passes completes with {@code false} without having run, and
     * one still queued when the registry closes completes with {@link IllegalStateException}.
     * The registry's {@linkplain LockRegistry.Builder#taskDecorator task decorator} captures the
     * calling thread's context here, for the registry thread that acquires.
     */
    public CompletableFuture<Boolean> acquireAsync(Duration timeout) {
        Timeouts.check(timeout, "timeout");
        return registry.acquireAsync(AsyncLocks.Target.of(this), timeout);
    }

    /**
     * Releases one hold. Never waits for other holders; one round trip when the last hold of
     * this registry on the key goes.
     *
     * @return {@code true} if this handle held the lock, {@code false} if it did not
     * @throws LockLostException if the lock was lost while held (reported once; the handle is
     *     then free to acquire again)
     * @throws IllegalStateException if the registry is closed (its locks were released then)
     */
    public boolean release() {
        return registry.engine().release(holder);
    }

    /**
     * Releases one hold once {@code delay} has passed, on a registry thread; the caller returns at
     * once. This is the "hold at least" of scheduled jobs: a job that finishes early keeps its lock
     * for the rest of the interval, so that a node whose clock or schedule drifts does not run it
     * again. The handle stays held meanwhile, and a loss meanwhile is reported to the registry's
     * listeners as always.
     *
     * @return completes with what {@link #release()} returned, or exceptionally as it would throw
     *     ({@link LockLostException} if the lock was lost meanwhile); with {@code true} if the
     *     registry was closed first, which released the lock; the release runs in the context the
     *     registry's {@linkplain LockRegistry.Builder#taskDecorator task decorator} captured here
     * @throws IllegalArgumentException if the delay is negative or longer than about 24 days
     */
    public CompletableFuture<Boolean> releaseAfter(Duration delay) {
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative() || delay.compareTo(Timeouts.LONGEST) > 0) {
            throw new IllegalArgumentException("delay must be between 0 and " + Timeouts.LONGEST + ", but was " + delay);
        }
        return registry.releaseAfter(AsyncLocks.Target.of(this), delay);
    }

    /**
     * The fencing token of this handle's hold, for a resource outside PostgreSQL to refuse a
     * holder that lost the lock: greater than the token of every earlier hold of this lock, in
     * any registry or process, and smaller than every later one's (see {@link FencingTokens}).
     * Send it with every write to that resource, which keeps the greatest token it saw and refuses
     * a write carrying a smaller one. Needs {@link LockRegistry.Builder#fencingTokens}.
     *
     * <p>The first call of a hold issues the token: one {@code nextval} round trip on the session
     * that holds the lock, so a lock whose session has died gets none. Later calls, re-entries
     * included, answer the same token in the JVM until the last release; the next acquisition gets
     * a new one. Shared holders each get their own token, and a later exclusive holder a greater
     * one than all of them. Never waits for other holders; the round trip is bounded by the
     * registry's network timeout and is not interrupted (the interrupt status is kept). The lock
     * stays held whatever this throws.
     *
     * @return the token, valid while this hold lasts
     * @throws IllegalStateException if the registry was built without fencing tokens, or this
     *     handle does not hold the lock, or was released while the token was being issued, or the
     *     registry is closed
     * @throws LockLostException if the lock was lost (the next {@link #release()} still reports it)
     * @throws LockException if the sequence is missing, unfit or not usable by the registry's
     *     database user (the message gives the statement to run), or the server failed
     */
    public long fencingToken() {
        return registry.engine().fencingToken(holder);
    }

    /**
     * Whether this handle holds the lock. Answered in the JVM, without a round trip: it turns
     * false when the registry notices the lock's session ended.
     */
    public boolean isHeld() {
        return holder.count > 0;
    }

    /** How many times this handle holds the lock (acquisitions less releases); 0 when not held. */
    public int holdCount() {
        return holder.count;
    }

    @Override
    public String toString() {
        return "AdvisoryLock[" + holder.name + ", key " + holder.key + ", " + holder.mode.label()
                + (isHeld() ? ", held " + holder.count + "x" : ", not held") + "]";
    }

    /** Releases the lock of a handle that became unreachable; refers to no handle itself. */
    private record Abandoned(Engine engine, Holder holder) implements Runnable {
        private static final System.Logger LOG = System.getLogger(AdvisoryLock.class.getName());

        @Override
        public void run() {
            if (holder.count > 0) {
                LOG.log(System.Logger.Level.WARNING, () -> "Lock '" + holder.name + "' (key " + holder.key
                        + ") was held by a handle that became unreachable; releasing it now. Release locks in a "
                        + "finally block or with try-with-resources (AdvisoryLock.hold()).");
                engine.releaseAll(holder);
            }
        }
    }
}
