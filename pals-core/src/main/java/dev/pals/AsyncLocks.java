package dev.pals;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * What a registry does for a handle on its own threads, the caller returning at once:
 * {@link AdvisoryLock#acquireAsync} and {@link AdvisoryLock#releaseAfter}, on the
 * {@linkplain RegistryThreads#async() asynchronous lane}. Each answers through its future exactly
 * once: with the outcome, or, if the registry closes first, as closing decides.
 */
final class AsyncLocks {

    private final RegistryThreads threads;
    /** Releases scheduled by {@link AdvisoryLock#releaseAfter}, so that closing can answer them. */
    private final Set<DelayedRelease> delayedReleases = ConcurrentHashMap.newKeySet();

    AsyncLocks(RegistryThreads threads) {
        this.threads = threads;
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
    CompletableFuture<Boolean> releaseAfter(AdvisoryLock lock, Duration delay) {
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

    /** One release of {@link AdvisoryLock#releaseAfter}; runs once, whoever gets to it. */
    private final class DelayedRelease implements Runnable {

        private final AdvisoryLock lock;
        final CompletableFuture<Boolean> result = new CompletableFuture<>();

        DelayedRelease(AdvisoryLock lock) {
            this.lock = lock;
        }

        void releasedByClose() {
            if (delayedReleases.remove(this)) {
                result.complete(true);
            }
        }

        @Override
        public void run() {
            if (!delayedReleases.remove(this)) {
                return;
            }
            try {
                result.complete(lock.release());
            } catch (RuntimeException | Error e) {
                result.completeExceptionally(e);
            }
        }
    }

    @SuppressWarnings("FutureReturnValueIgnored") // the expiry is cancelled through the result, which answers the caller
    CompletableFuture<Boolean> acquireAsync(AdvisoryLock lock, Duration timeout) {
        AsyncAcquire task = new AsyncAcquire(lock, timeout);
        try {
            threads.async().execute(task);
            if (!Timeouts.isForever(timeout)) {
                ScheduledFuture<?> expiry = threads.housekeeper().schedule(task::expireIfQueued, timeout.toNanos(),
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

        private final AdvisoryLock lock;
        private final Duration timeout;
        /** From the call: time spent queued for a thread counts against the timeout. */
        private final long deadline;
        private final CompletableFuture<Boolean> result = new CompletableFuture<>();
        private final ReentrantLock runnerLock = new ReentrantLock();
        private @Nullable Thread runner;
        /** Whether a thread took the task; guarded by runnerLock. */
        private boolean started;

        @SuppressWarnings("FutureReturnValueIgnored") // a cancel hook on the caller's future, not a result
        AsyncAcquire(AdvisoryLock lock, Duration timeout) {
            this.lock = lock;
            this.timeout = timeout;
            this.deadline = Timeouts.deadline(timeout);
            result.whenComplete((value, failure) -> {
                if (result.isCancelled()) {
                    interruptRunner();
                }
            });
        }

        @Override
        public void run() {
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
                boolean acquired = lock.tryAcquire(Timeouts.isForever(timeout) ? timeout
                        : Duration.ofNanos(Timeouts.remaining(deadline)));
                if (!result.complete(acquired) && acquired) {
                    lock.release();
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

        /** Answers {@code false} for an acquisition still queued when its timeout passed; it then never runs. */
        void expireIfQueued() {
            runnerLock.lock();
            try {
                if (!started) {
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
