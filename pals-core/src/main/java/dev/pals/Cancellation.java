package dev.pals;

import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * The race between a waiting statement's grant and its caller giving up. Exactly one side wins
 * {@link #state}: the worker by {@link #granted()}, the caller by {@link #abandon()}; the loser
 * makes sure nothing stays held.
 */
final class Cancellation {

    private static final int RUNNING = 0;
    private static final int GRANTED = 1;
    private static final int ABANDONED = 2;

    private final AtomicInteger state = new AtomicInteger(RUNNING);
    private final ScheduledExecutorService timer;
    private final Future<?> done;
    private volatile @Nullable Statement statement;

    /** {@code done} completes when the worker is finished with the statement. */
    Cancellation(ScheduledExecutorService timer, Future<?> done) {
        this.timer = timer;
        this.done = done;
    }

    /** The worker is about to run {@code running}; {@code false} if the caller already gave up. */
    boolean start(Statement running) {
        statement = running;
        return state.get() == RUNNING;
    }

    /** The worker is done with its statement. */
    void finish() {
        statement = null;
    }

    /** The worker's claim of a grant; {@code false} if the caller gave up first. */
    boolean granted() {
        return state.compareAndSet(RUNNING, GRANTED);
    }

    boolean isAbandoned() {
        return state.get() == ABANDONED;
    }

    /**
     * The caller gives up: {@code true} if no grant was claimed, in which case the worker leaves
     * nothing held; {@code false} if the worker had already claimed one.
     */
    boolean abandon() {
        if (!state.compareAndSet(RUNNING, ABANDONED)) {
            return false;
        }
        cancelUntilDone();
        return true;
    }

    /** The statement may not have reached the server yet, so the cancel is repeated until it lands. */
    private void cancelUntilDone() {
        if (done.isDone()) {
            return;
        }
        Statement running = statement;
        if (running != null) {
            try {
                running.cancel();
            } catch (SQLException e) {
                // the connection is gone, which ends the wait as well
            }
        }
        if (!timer.isShutdown()) {
            timer.schedule(this::cancelUntilDone, 50, TimeUnit.MILLISECONDS);
        }
    }
}
