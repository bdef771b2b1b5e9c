package dev.pals.shedlock;

import dev.pals.AdvisoryLock;
import dev.pals.LockLostException;
import dev.pals.LockRegistry;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import net.javacrumbs.shedlock.core.AbstractSimpleLock;
import net.javacrumbs.shedlock.core.ClockProvider;
import net.javacrumbs.shedlock.core.ExtensibleLockProvider;
import net.javacrumbs.shedlock.core.LockConfiguration;
import net.javacrumbs.shedlock.core.SimpleLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ShedLock's {@code LockProvider} on PostgreSQL advisory locks: each ShedLock lock name is a lock
 * of the {@link LockRegistry}, held by the registry's session while the task runs. No table, no
 * rows, no clocks compared: a holder whose session ends (a crash, a terminated backend) frees the
 * lock at once.
 *
 * <p><b>Contention.</b> {@link #lock} never waits: it answers {@link Optional#empty()} when the
 * lock is held elsewhere, by another instance or by another caller of this one (two calls in one
 * JVM exclude each other too), and ShedLock then skips the task.
 *
 * <p><b>{@code lockAtLeastFor}.</b> {@link SimpleLock#unlock()} before {@code lockAtLeastUntil}
 * keeps the lock until then ({@link AdvisoryLock#releaseAfter}) and returns at once; later, it
 * releases at once.
 *
 * <p><b>{@code lockAtMostFor}</b> is a bound on holding, since advisory locks never expire by
 * time: a task still holding at {@code lockAtMostUntil} has its lock released by this provider, with
 * a WARN naming the lock, the bound and how long the task had run, and another WARN when its
 * {@code unlock()} finally comes. Exactly one of the two, the owner's unlock or the bound, releases.
 *
 * <p><b>Extension.</b> {@link SimpleLock#extend} (ShedLock's {@code LockExtender}) moves the bound
 * and {@code lockAtLeastUntil} to the new durations from now and answers a new {@code SimpleLock};
 * the old one is then invalid (its {@code unlock()} and {@code extend()} throw
 * {@link IllegalStateException}). It answers {@link Optional#empty()} once the lock is gone: released
 * at its bound, or lost.
 *
 * <p><b>Loss.</b> A lock whose session ended is reported as the registry reports every loss (its
 * {@code LockLossListener}s); the task's {@code unlock()} then logs a WARN instead of throwing into
 * ShedLock's executor.
 *
 * <p><b>Interrupt and failure.</b> {@link #lock} does one round trip at most; an interrupted
 * thread gets {@link dev.pals.AcquireFailureException} and a failed server {@link dev.pals.LockException}
 * (ShedLock propagates both, the task does not run), and nothing is held then.
 *
 * <p>The bounds run on one daemon thread of the provider's own, which {@link #close()} stops.
 * Thread-safe.
 */
public final class AdvisoryLockProvider implements ExtensibleLockProvider, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(AdvisoryLockProvider.class);

    private final LockRegistry registry;
    private final ScheduledThreadPoolExecutor bounds;

    /** A provider whose locks are {@code registry}'s; closing the provider leaves the registry open. */
    public AdvisoryLockProvider(LockRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.bounds = new ScheduledThreadPoolExecutor(1, runnable -> {
            Thread thread = new Thread(runnable, "pals-shedlock-bounds");
            thread.setDaemon(true);
            return thread;
        });
        // a task that unlocks in time leaves no cancelled bound behind in the queue
        bounds.setRemoveOnCancelPolicy(true);
    }

    /**
     * Takes the lock named {@code configuration.getName()} if it is free now; never waits.
     *
     * @return the held lock, or empty if another holder has it
     * @throws IllegalArgumentException if {@code lockAtLeastFor} is longer than
     *     {@link LockRegistry#LONGEST_WAIT}
     * @throws IllegalStateException if this provider or its registry is closed
     * @throws dev.pals.AcquireFailureException if the thread was interrupted; nothing is held
     * @throws dev.pals.LockException if the server failed; nothing is held
     */
    @Override
    public Optional<SimpleLock> lock(LockConfiguration configuration) {
        if (configuration.getLockAtLeastFor().compareTo(LockRegistry.LONGEST_WAIT) > 0) {
            throw new IllegalArgumentException("lockAtLeastFor of '" + configuration.getName() + "' must be at most "
                    + LockRegistry.LONGEST_WAIT + ", but was " + configuration.getLockAtLeastFor());
        }
        if (bounds.isShutdown()) {
            throw new IllegalStateException("The advisory lock provider is closed");
        }
        AdvisoryLock handle = registry.lock(configuration.getName());
        if (!handle.tryAcquire()) {
            return Optional.empty();
        }
        Hold hold = new Hold(handle, System.nanoTime());
        Term term = new Term(hold, configuration);
        hold.current.set(term);
        try {
            term.scheduleBound();
        } catch (RuntimeException e) {
            // closed meanwhile: a lock without its bound would be held with no limit
            hold.current.set(null);
            hold.release("its bound could not be scheduled");
            throw e;
        }
        return Optional.of(term);
    }

    /**
     * Stops the bounds: locks still held stay held until their task unlocks them or the registry
     * closes, and {@link #lock} throws {@link IllegalStateException} from now on. Does not wait.
     */
    @Override
    public void close() {
        bounds.shutdownNow();
    }

    /** One acquisition: the handle and which of its terms, if any, may still release it. */
    private static final class Hold {
        final AdvisoryLock handle;
        final long startedNanos;
        /** The term whose unlock, extend or bound acts; null once one of them released. */
        final AtomicReference<@Nullable Term> current = new AtomicReference<>();

        Hold(AdvisoryLock handle, long startedNanos) {
            this.handle = handle;
            this.startedNanos = startedNanos;
        }

        Duration ran() {
            return Duration.ofNanos(System.nanoTime() - startedNanos);
        }

        /** Releases now; a loss or a failure is logged, never thrown to ShedLock's executor. */
        void release(String why) {
            try {
                handle.release();
            } catch (RuntimeException e) {
                logReleaseFailure(why, e);
            }
        }

        @SuppressWarnings("FutureReturnValueIgnored") // its outcome is logged by the stage itself
        void releaseAfter(Duration delay) {
            handle.releaseAfter(delay).whenComplete((released, failure) -> {
                if (failure != null) {
                    logReleaseFailure("lockAtLeastFor passed", failure);
                }
            });
        }

        private void logReleaseFailure(String why, Throwable failure) {
            if (failure instanceof LockLostException) {
                LOG.warn("ShedLock lock '{}' was lost while held (its database session ended; the registry reported "
                        + "the loss), so another instance may have run the task meanwhile; nothing left to release "
                        + "when {}", handle.name(), why);
            } else {
                LOG.error("ShedLock lock '{}' could not be released when {}", handle.name(), why, failure);
            }
        }
    }

    /** One {@code SimpleLock}: the hold under one configuration, until unlocked or extended. */
    private final class Term extends AbstractSimpleLock {
        private final Hold hold;
        private volatile @Nullable ScheduledFuture<?> bound;

        Term(Hold hold, LockConfiguration configuration) {
            super(configuration);
            this.hold = hold;
        }

        void scheduleBound() {
            Duration left = Duration.between(ClockProvider.now(), lockConfiguration.getLockAtMostUntil());
            // milliseconds hold any lockAtMostFor a configuration can give, where nanoseconds overflow at 292 years
            try {
                bound = bounds.schedule(this::boundReached, Math.max(0, left.toMillis()), TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException closed) {
                throw new IllegalStateException("The advisory lock provider is closed", closed);
            }
        }

        private void cancelBound() {
            ScheduledFuture<?> scheduled = bound;
            if (scheduled != null) {
                scheduled.cancel(false);
            }
        }

        private void boundReached() {
            if (hold.current.compareAndSet(this, null)) {
                LOG.warn("ShedLock lock '{}' reached its lockAtMostFor of {} while its task was still running (for {}): "
                        + "released it, so another instance may start the task now. Raise lockAtMostFor above the "
                        + "task's longest run, or extend the lock with LockExtender.", lockConfiguration.getName(),
                        lockConfiguration.getLockAtMostFor(), hold.ran());
                hold.release("its lockAtMostFor passed");
            }
        }

        @Override
        protected void doUnlock() {
            if (!hold.current.compareAndSet(this, null)) {
                LOG.warn("The task of ShedLock lock '{}' ended after {}, beyond its lockAtMostFor of {}: its lock had "
                        + "been released at the bound.", lockConfiguration.getName(), hold.ran(),
                        lockConfiguration.getLockAtMostFor());
                return;
            }
            cancelBound();
            // ShedLock's clock counts whole milliseconds: a configuration made with Instant.now() would otherwise
            // look held at least for the fraction of a millisecond the clock cut off, and release late
            Duration atLeast = Duration.between(ClockProvider.now(),
                    lockConfiguration.getLockAtLeastUntil().truncatedTo(ChronoUnit.MILLIS));
            if (atLeast.isNegative() || atLeast.isZero()) {
                hold.release("its task unlocked it");
            } else {
                hold.releaseAfter(atLeast);
            }
        }

        @Override
        protected Optional<SimpleLock> doExtend(LockConfiguration extended) {
            if (extended.getLockAtLeastFor().compareTo(LockRegistry.LONGEST_WAIT) > 0) {
                throw new IllegalArgumentException("lockAtLeastFor must be at most " + LockRegistry.LONGEST_WAIT
                        + ", but was " + extended.getLockAtLeastFor());
            }
            if (!hold.handle.isHeld()) {
                // lost: the term ends here, and the release reports the loss once
                if (hold.current.compareAndSet(this, null)) {
                    cancelBound();
                    hold.release("its task tried to extend it");
                }
                return Optional.empty();
            }
            Term next = new Term(hold, extended);
            if (!hold.current.compareAndSet(this, next)) {
                return Optional.empty();
            }
            cancelBound();
            try {
                next.scheduleBound();
            } catch (RuntimeException e) {
                hold.current.set(null);
                hold.release("its new bound could not be scheduled");
                throw e;
            }
            return Optional.of(next);
        }
    }
}
