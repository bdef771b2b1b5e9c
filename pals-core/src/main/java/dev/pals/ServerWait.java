package dev.pals;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;

/**
 * A blocking wait in the server, run on a worker thread so that the caller can give it up: a
 * {@code pg_advisory_lock} under a statement-local {@code lock_timeout}, on a session that holds
 * nothing else. The server wakes it the moment the holder lets go. Giving up cancels the
 * statement, and aborts the connection if the cancels go unheeded; if the grant and the cancel
 * cross, whichever side loses the race in {@link Cancellation} makes sure nothing stays held. The
 * statement's network timeout is the wait's own time plus the registry's network timeout, so a
 * wait on a connection gone silent ends as well.
 */
final class ServerWait implements Runnable {

    private final SessionPool pool;
    private final Session session;
    private final KeyState keyState;
    private final Holder holder;
    private final long deadline;
    private final Lease lease;

    /** Completes with whether the lock is now held on {@link #session}, or with the failure. */
    final CompletableFuture<Boolean> result = new CompletableFuture<>();
    private final Cancellation cancellation;
    /**
     * Whether the session may hold the key without {@link #result} saying so: from when the wait
     * statement is sent (before that, nothing reached the server) until a failure is known to have
     * left nothing held. Only the worker uses it.
     */
    private boolean mayHold;

    ServerWait(SessionPool pool, Session session, KeyState keyState, Holder holder, long deadline, Lease lease,
            ScheduledExecutorService timer, Executor workers) {
        this.pool = pool;
        this.session = session;
        this.keyState = keyState;
        this.holder = holder;
        this.deadline = deadline;
        this.lease = lease;
        this.cancellation = new Cancellation(timer, workers, result, session.connection,
                () -> SessionOpener.abort(session.connection), lease.networkTimeout.toNanos());
    }

    Session session() {
        return session;
    }

    /** The handle this wait acquires for. */
    Holder holder() {
        return holder;
    }

    @Override
    public void run() {
        boolean granted = false;
        Throwable failure = null;
        session.io.lock();
        try (PreparedStatement wait = session.waitStatement(holder.key, holder.mode,
                Timeouts.lockTimeoutSetting(deadline))) {
            granted = cancellation.start(wait) && waitOn(wait);
            if (granted && !cancellation.granted()) {
                // abandoned as the grant came: this session holds nothing else, so clear it all
                session.unlockAll();
                granted = false;
            }
            if (granted) {
                session.held.add(keyState);
            }
        } catch (SQLException e) {
            // the failure itself if its translation fails, so that the caller is answered either way
            failure = e;
            failure = translate(e);
        } catch (RuntimeException | Error e) {
            failure = e;
            clearIfMayHold(e);
        } finally {
            try {
                cancellation.finish();
                session.releaseIo();
                pool.done(session);
            } finally {
                // answered only once the session is back in the pool: a caller that goes on to wait again
                // would otherwise find no empty session, and open another connection
                if (failure == null) {
                    result.complete(granted);
                } else {
                    result.completeExceptionally(failure);
                }
            }
        }
    }

    private boolean waitOn(PreparedStatement wait) throws SQLException {
        SQLException failure = null;
        session.connection.setNetworkTimeout(Lease.DIRECT, lease.waitNetworkTimeoutMillis(deadline));
        mayHold = true;
        try {
            wait.executeQuery().close();
        } catch (SQLException e) {
            failure = e;
        } finally {
            // from here on, a cancel meant for the wait must not reach the statements that clean up after it
            cancellation.finish();
        }
        try {
            session.connection.setNetworkTimeout(Lease.DIRECT, lease.networkTimeoutMillis());
        } catch (SQLException e) {
            if (failure == null) {
                throw e;
            }
            failure.addSuppressed(e);
        }
        if (failure == null) {
            return true;
        }
        if (SqlErrors.is(failure, SqlErrors.LOCK_NOT_AVAILABLE)) {
            // the timeout and the grant may have crossed: the server decides
            return session.holds(holder.key);
        }
        if (SqlErrors.is(failure, SqlErrors.QUERY_CANCELED)) {
            // a cancel can land after the grant: this session holds nothing else, so clear it all
            session.unlockAll();
            mayHold = false;
            if (cancellation.isAbandoned()) {
                return false;
            }
        } else if (SqlErrors.is(failure, SqlErrors.DEADLOCK_DETECTED)) {
            // known clean: a deadlock victim is taken out of the queue instead of being granted, and this
            // statement waits for nothing else. Any other failure may have come after the grant (a full lock
            // table is 53200, but so is running out of memory anywhere), so it is cleared, at one round trip.
            mayHold = false;
        }
        throw failure;
    }

    private RuntimeException translate(SQLException e) {
        if (cancellation.isAbandoned()) {
            // nobody waits for this answer; the session cannot be trusted to hold nothing
            pool.discard(session, e);
            return new LockException("Abandoned wait for lock '" + holder.name + "' failed", e);
        }
        if (pool.failed(session, e)) {
            return new LockException("The connection waiting for lock '" + holder.name + "' was lost: "
                    + e.getMessage() + "; nothing is held. Check the database server and network.", e);
        }
        clearIfMayHold(e);
        return SqlErrors.lockFailure("wait for", holder.name, holder.mode, e);
    }

    /**
     * After a failure that may have come after the grant (restoring the network timeout, or asking
     * the server whether a timed-out wait was granted after all): the result will not say the key
     * is held, so nobody would own it, and the session is about to go back to the pool. It holds
     * nothing else, so it is cleared; if that fails too, it is discarded, which ends its PostgreSQL
     * session and so frees the key.
     */
    private void clearIfMayHold(Throwable failure) {
        if (!mayHold) {
            return;
        }
        try {
            session.connection.setNetworkTimeout(Lease.DIRECT, lease.networkTimeoutMillis());
            session.unlockAll();
        } catch (SQLException | RuntimeException | Error e) {
            failure.addSuppressed(e);
            pool.discard(session, e instanceof SQLException sql ? sql
                    : new SQLException("Clearing the session after a failed wait failed: " + e, e));
        }
    }

    /**
     * Gives the wait up: returns {@code true} if it had not been granted yet, in which case the
     * worker leaves nothing held; {@code false} if it had already finished.
     */
    boolean abandon() {
        return cancellation.abandon();
    }
}
