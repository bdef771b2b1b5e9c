package dev.pals;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * What a registry does for a handle on its own threads, the caller returning at once:
 * {@link AdvisoryLock#acquireAsync} and {@link AdvisoryLock#releaseAfter}, and the same for a
 * {@link AdvisoryLockSet}, on the {@linkplain RegistryThreads#async() asynchronous lane}. Each answers through its future exactly
 * once: with the outcome, or, if the registry closes first, as closing decides.
 *
 * <p>Each piece of work is wrapped by the {@linkplain LockRegistry.Builder#taskDecorator task
 * decorator} on the caller's thread when it is asked for, so that the caller's context (its trace,
 * its logging context) is the registry thread's while the work runs, and while the future's
 * completion runs the caller's dependent stages. The executors see the undecorated tasks, so that
 * closing still recognises what never ran.
 */
final class AsyncLocks {

    private static final System.Logger LOG = System.getLogger(AsyncLocks.class.getName());

    private final RegistryThreads threads;
    private final UnaryOperator<Runnable> decorator;
    /**
     * What an acquisition or a release works on: one handle, or a set of them, which this class treats
     * alike (a set acquires all or nothing, and gives back what it got when interrupted).
     */
    record Target(String name, String described, LockMode mode, TimedAcquire acquire, BooleanSupplier release) {

        static Target of(AdvisoryLock lock) {
            return new Target(lock.name(), "lock '" + lock.name() + "'", lock.mode(), lock::tryAcquire, lock::release);
        }

        static Target of(AdvisoryLockSet set) {
            String names = set.names().toString();
            return new Target(names, "lock set " + names, set.mode(), set::tryAcquire, set::release);
        }
    }

    /** {@code tryAcquire(Duration)} of a handle or a set. */
    @FunctionalInterface
    interface TimedAcquire {
        boolean tryAcquire(Duration timeout) throws InterruptedException;
    }

    /** Releases scheduled by {@code releaseAfter}, so that closing can answer them. */
    private final Set<DelayedRelease> delayedReleases = ConcurrentHashMap.newKeySet();

    AsyncLocks(RegistryThreads threads, UnaryOperator<Runnable> decorator) {
        this.threads = threads;
        this.decorator = decorator;
    }

    /** The decorator's wrapping of {@code task}, on the caller's thread; what it throws reaches the caller. */
    private Runnable decorated(Runnable task) {
        return Objects.requireNonNull(decorator.apply(task), "the registry's task decorator returned null");
    }

    /**
     * Answers what closing left: acquisitions still queued fail as closed; delayed releases
     * answer {@code true}, as closing released their locks.
     */
    void closed(List<Runnable> neverRun) {
        for (Runnable queued : neverRun) {
            if (queued instanceof AsyncAcquire acquisition) {
                acquisition.result.completeExceptionally(LockRegistry.closedError(null));
            }
        }
        delayedReleases.forEach(DelayedRelease::releasedByClose);
    }

    @SuppressWarnings("FutureReturnValueIgnored") // the release answers through its own future
    CompletableFuture<Boolean> releaseAfter(Target lock, Duration delay) {
        DelayedRelease release = new DelayedRelease(lock);
        delayedReleases.add(release);
        try {
            threads.housekeeper().schedule(() -> {
                try {
                    threads.async().execute(release);
                } catch (RejectedExecutionException closing) {
                    release.run();
                }
            }, delay.toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException closing) {
            release.run();
        }
        return release.result;
    }

    /** One release of {@code releaseAfter}; runs once, whoever gets to it. */
    private final class DelayedRelease implements Runnable {

        private final Target lock;
        final CompletableFuture<Boolean> result = new CompletableFuture<>();
        /** {@link #release()} as the decorator wrapped it. */
        private final Runnable decorated;

        DelayedRelease(Target lock) {
            this.lock = lock;
            this.decorated = decorated(this::release);
        }

        void releasedByClose() {
            if (delayedReleases.remove(this)) {
                result.complete(true);
            }
        }

        /**
         * Releases in the caller's context; if the decorator's wrapping failed or did not release,
         * releases without it, as a lock must not stay held for want of a trace.
         */
        @Override
        public void run() {
            try {
                decorated.run();
            } catch (RuntimeException | Error e) {
                LOG.log(System.Logger.Level.WARNING, () -> "The registry's task decorator failed around the delayed "
                        + "release of " + lock.described() + "; releasing it without the caller's context", e);
            } finally {
                release();
            }
        }

        /** Releases once, whoever gets to it first. */
        private void release() {
            if (!delayedReleases.remove(this)) {
                return;
            }
            try {
                result.complete(lock.release().getAsBoolean());
            } catch (RuntimeException | Error e) {
                result.completeExceptionally(e);
            }
        }
    }

    @SuppressWarnings("FutureReturnValueIgnored") // the expiry is cancelled through the result, which answers the caller
    CompletableFuture<Boolean> acquireAsync(Target lock, Duration timeout) {
        AsyncAcquire task = new AsyncAcquire(lock, timeout, this::decorated);
        // the expiry may complete the future, and so run the caller's dependent stages: in its context too
        @Nullable Runnable expireIfQueued = Timeouts.isForever(timeout) ? null
                : decorated(() -> task.expireIfQueued(threads.asyncLaneFull()));
        try {
            threads.async().execute(task);
            if (expireIfQueued != null) {
                ScheduledFuture<?> expiry = threads.housekeeper().schedule(expireIfQueued, timeout.toNanos(),
                        TimeUnit.NANOSECONDS);
                task.result.whenComplete((acquired, failure) -> expiry.cancel(false));
            }
        } catch (RejectedExecutionException e) {
            task.result.completeExceptionally(LockRegistry.closedError(e));
        }
        return task.result;
    }

    /**
     * An acquisition on a worker thread. Cancelling the future interrupts the worker, which
     * cancels the server wait; a grant that crossed the cancel is released.
     */
    private static final class AsyncAcquire implements Runnable {

        private final Target lock;
        private final Duration timeout;
        /** From the call: time spent queued for a thread counts against the timeout. */
        private final long deadline;
        private final CompletableFuture<Boolean> result = new CompletableFuture<>();
        /** {@link #acquire()} as the decorator wrapped it. */
        private final Runnable decorated;
        private final ReentrantLock runnerLock = new ReentrantLock();
        private @Nullable Thread runner;
        /** Whether a thread took the task; guarded by runnerLock. */
        private boolean started;

        @SuppressWarnings("FutureReturnValueIgnored") // a cancel hook on the caller's future, not a result
        AsyncAcquire(Target lock, Duration timeout, UnaryOperator<Runnable> decorator) {
            this.lock = lock;
            this.timeout = timeout;
            this.deadline = Timeouts.deadline(timeout);
            this.decorated = decorator.apply(this::acquire);
            result.whenComplete((value, failure) -> {
                if (result.isCancelled()) {
                    interruptRunner();
                }
            });
        }

        /**
         * Acquires in the caller's context. A decorator's wrapping that fails before acquiring, or
         * returns without acquiring, fails the future; nothing is then held.
         */
        @Override
        public void run() {
            try {
                decorated.run();
            } catch (RuntimeException | Error e) {
                result.completeExceptionally(e);
            }
            result.completeExceptionally(new IllegalStateException("The registry's task decorator did not run the "
                    + "acquisition of " + lock.described()));
        }

        private void acquire() {
            runnerLock.lock();
            try {
                if (result.isDone()) {
                    return;
                }
                started = true;
                runner = Thread.currentThread();
            } finally {
                runnerLock.unlock();
            }
            try {
                boolean acquired = lock.acquire().tryAcquire(Timeouts.isForever(timeout) ? timeout
                        : Duration.ofNanos(Timeouts.remaining(deadline)));
                if (!result.complete(acquired) && acquired) {
                    var unused = lock.release().getAsBoolean(); // nobody waits for this grant any more
                }
            } catch (InterruptedException e) {
                result.completeExceptionally(new AcquireFailureException(lock.name(), lock.mode(),
                        AcquireFailureException.Reason.CANCELLED, null, e));
            } catch (RuntimeException | Error e) {
                result.completeExceptionally(e);
            } finally {
                runnerLock.lock();
                try {
                    runner = null;
                    Thread.interrupted();
                } finally {
                    runnerLock.unlock();
                }
            }
        }

        /**
         * Answers {@code false} for an acquisition still queued behind a full lane when its timeout
         * passed; it then never runs. One that only waits for a free thread to start (a timeout of zero
         * is always that far) is left to run: its deadline passed, it tries once without waiting.
         */
        void expireIfQueued(boolean laneFull) {
            runnerLock.lock();
            try {
                if (!started && laneFull) {
                    result.complete(false);
                }
            } finally {
                runnerLock.unlock();
            }
        }

        private void interruptRunner() {
            runnerLock.lock();
            try {
                if (runner != null) {
                    runner.interrupt();
                }
            } finally {
                runnerLock.unlock();
            }
        }
    }
}
