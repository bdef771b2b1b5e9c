package dev.pals.spring.integration;

import dev.pals.LockRegistry;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The timer of the ttls of one {@link AdvisoryLockRegistry}: one thread, started at the first ttl
 * and ended when idle, which releases the locks whose ttl passed (one round trip each, bounded by
 * the registry's network timeout).
 */
final class TtlScheduler {

    private final ScheduledThreadPoolExecutor executor;
    /** Set by {@link AdvisoryLockRegistry#setRenewalTaskScheduler}: holds are then renewed for as long as they last. */
    private volatile boolean renewing;

    TtlScheduler() {
        executor = new ScheduledThreadPoolExecutor(1, runnable -> {
            Thread thread = new Thread(runnable, "pals-integration-ttl");
            thread.setDaemon(true);
            return thread;
        });
        executor.setKeepAliveTime(10, TimeUnit.SECONDS);
        executor.allowCoreThreadTimeOut(true);
        // a renewed or released hold takes its bound off the queue at once
        executor.setRemoveOnCancelPolicy(true);
        // closing drops the bounds not due yet; one being released finishes
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }

    /**
     * @throws IllegalArgumentException if the ttl is not positive or longer than
     *     {@link LockRegistry#LONGEST_WAIT}
     */
    static Duration check(Duration ttl) {
        Objects.requireNonNull(ttl, "ttl");
        if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(LockRegistry.LONGEST_WAIT) > 0) {
            throw new IllegalArgumentException(
                    "ttl must be positive and at most " + LockRegistry.LONGEST_WAIT + ", but was " + ttl);
        }
        return ttl;
    }

    boolean renewing() {
        return renewing;
    }

    void renewAutomatically() {
        renewing = true;
    }

    /** @throws IllegalStateException if the registry is closed */
    ScheduledFuture<?> schedule(Runnable expiry, Duration ttl) {
        try {
            return executor.schedule(expiry, ttl.toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            throw new IllegalStateException("The Spring Integration lock registry is closed", e);
        }
    }

    void close() {
        executor.shutdown();
    }
}
