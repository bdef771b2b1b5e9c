package dev.pals;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.Executor;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The race between a waiting statement's grant and its caller giving up. Exactly one side wins
 * {@link #state}: the worker by {@link #granted()}, the caller by {@link #abandon()}; the loser
 * makes sure nothing stays held.
 *
 * <p>A cancel that reaches the server before the statement does is ignored there. So giving up
 * sends a cancel every {@link #RETRY_MILLIS} until the worker is done with the statement, in the
 * way that can be repeated on the connection's driver ({@link PgJdbc#cancel}), off the caller's
 * thread (a cancel opens a connection of its own, which a silent network can hold up). Where the connection is the registry's own, it is aborted if the
 * statement still runs {@code abortAfterNanos} after giving up, however the cancels fare: it
 * holds nothing else, and the server drops the waiter when it sees its client gone.
 */
final class Cancellation {

    private static final int RUNNING = 0;
    private static final int GRANTED = 1;
    private static final int ABANDONED = 2;
    private static final long RETRY_MILLIS = 50;
    /** How long the worker waits for a cancel in flight before it moves on; a silent network can hold one up. */
    private static final long FINISH_PATIENCE_MILLIS = 1_000;

    private final AtomicInteger state = new AtomicInteger(RUNNING);
    private final ScheduledExecutorService timer;
    private final Executor sender;
    private final Future<?> done;
    private final Connection connection;
    private final @Nullable Runnable abort;
    private final long abortAfterNanos;
    /** Held while a cancel is sent, so that none is in flight once {@link #finish()} returns. */
    private final ReentrantLock sending = new ReentrantLock();
    /** The running statement, null before and after; cleared under {@link #sending}. */
    private volatile @Nullable Statement statement;

    /**
     * @param done completes when the worker is finished with the statement
     * @param connection the statement's connection, for fresh cancel requests
     * @param abort ends {@code connection} when cancels go unheeded, or {@code null} when it is
     *     the caller's own connection, which only the caller may end
     */
    Cancellation(ScheduledExecutorService timer, Executor sender, Future<?> done, Connection connection,
            @Nullable Runnable abort, long abortAfterNanos) {
        this.timer = timer;
        this.sender = sender;
        this.done = done;
        this.connection = connection;
        this.abort = abort;
        this.abortAfterNanos = abortAfterNanos;
    }

    /** The worker is about to run {@code running}; {@code false} if the caller already gave up. */
    boolean start(Statement running) {
        statement = running;
        return state.get() == RUNNING;
    }

    /**
     * The worker is done with its statement. Waits a while for a cancel being sent, so that it
     * cannot hit the next statement; a cancel held up longer than that can, which costs that
     * statement (and its connection, which is then replaced), never a lock.
     */
    void finish() {
        boolean locked = false;
        try {
            locked = sending.tryLock(FINISH_PATIENCE_MILLIS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        statement = null;
        if (locked) {
            sending.unlock();
        }
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
     * nothing held; {@code false} if the worker had already claimed one. Returns at once; the
     * cancels are sent from registry threads.
     */
    @SuppressWarnings("FutureReturnValueIgnored") // the abort guards itself; nothing waits for it
    boolean abandon() {
        if (!state.compareAndSet(RUNNING, ABANDONED)) {
            return false;
        }
        Runnable ending = abort;
        if (ending != null) {
            try {
                timer.schedule(() -> {
                    if (!done.isDone() && statement != null) {
                        ending.run();
                    }
                }, abortAfterNanos, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException closing) {
                // the registry is closing, which ends its connections and so their statements
            }
        }
        sendSoon();
        return true;
    }

    private void sendSoon() {
        try {
            sender.execute(this::cancelOnce);
        } catch (RejectedExecutionException closing) {
            cancelOnce();
        }
    }

    @SuppressWarnings("FutureReturnValueIgnored") // a retry nobody waits for; done ends the chain
    private void cancelOnce() {
        if (done.isDone()) {
            return;
        }
        sending.lock();
        try {
            Statement current = statement;
            if (current != null) {
                sendCancel(current);
            }
        } finally {
            sending.unlock();
        }
        try {
            timer.schedule(this::sendSoon, RETRY_MILLIS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
            // the registry is closing, which ends its connections and so their statements
        }
    }

    private void sendCancel(Statement current) {
        try {
            PgJdbc.cancel(connection, current);
        } catch (SQLException | RuntimeException gone) {
            // the connection is gone, which ends the wait as well; else the next retry sends another
        }
    }
}
