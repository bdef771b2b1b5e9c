package dev.pals;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;

/**
 * A transaction-scoped advisory lock, from {@link LockRegistry#transactionLock}: taken with
 * {@code pg_advisory_xact_lock} on a connection the caller owns, inside the caller's
 * transaction, and released by PostgreSQL when that transaction commits or rolls back. There is
 * no release method and no handle ownership: the transaction owns the lock.
 *
 * <p>This is the safe choice for critical sections that write to the same database: if the
 * connection dies, the work dies with the lock. It also works behind a pooler in transaction
 * mode, where session locks cannot.
 *
 * <p><b>Contention.</b> Other transactions and sessions contend in the server. Taking it twice in
 * one transaction succeeds at once (PostgreSQL counts it).
 *
 * <p><b>Timeout.</b> The wait runs inside a savepoint under a {@code lock_timeout}: a wait that
 * times out, is interrupted, or is chosen to break a deadlock is rolled back to the savepoint, so
 * the caller's transaction stays usable, and the caller's {@code lock_timeout} is as it was.
 *
 * <p><b>Interrupt.</b> The wait runs on a registry thread while the caller waits for it; an
 * interrupt cancels the statement and returns once the connection is the caller's again.
 *
 * <p><b>Connection loss.</b> The transaction is lost with its connection, and the lock with it;
 * the caller sees the driver's exception from its own next statement, or a {@link LockException}
 * here.
 */
public final class TransactionLock {

    private static final String SAVEPOINT = "pals_lock_wait";

    private final LockInfo info;
    private final String name;
    private final LockKey key;
    private final LockMode mode;
    private final Engine engine;
    private final LockRegistry registry;
    private final @Nullable TransactionCompletion completion;
    private final Executor workers;
    private final ScheduledExecutorService timer;

    TransactionLock(LockInfo info, LockRegistry registry, Engine engine, @Nullable TransactionCompletion completion,
            Executor workers, ScheduledExecutorService timer) {
        this.registry = registry;
        this.info = info;
        this.name = info.name();
        this.key = info.key();
        this.mode = info.mode();
        this.engine = engine;
        this.completion = completion;
        this.workers = workers;
        this.timer = timer;
    }

    /** The group this lock reports under in metrics and traces. */
    public String group() {
        return info.group();
    }

    /**
     * Tracks the hold of a successful acquisition until its transaction ends, if the registry can see
     * that; {@code knownPid} is the connection's backend if the acquisition already asked for it.
     */
    private boolean tracked(Connection connection, @Nullable Integer knownPid, boolean acquired) {
        if (!acquired || completion == null) {
            return acquired;
        }
        Runnable ended = engine.transactionHolds().track(info, knownPid != null ? knownPid : backendPid(connection));
        boolean willRun;
        try {
            willRun = completion.afterCompletion(connection, ended);
        } catch (RuntimeException | Error e) {
            ended.run();
            throw e;
        }
        if (!willRun) {
            ended.run();
        }
        return true;
    }

    static @Nullable Integer backendPid(Connection connection) {
        try {
            return PgJdbc.backendPid(connection);
        } catch (SQLException | RuntimeException unknown) {
            return null;
        }
    }

    /** The lock's name within the registry's namespace. */
    public String name() {
        return name;
    }

    /** The PostgreSQL key. */
    public LockKey key() {
        return key;
    }

    /** Exclusive or shared. */
    public LockMode mode() {
        return mode;
    }

    /**
     * Takes the lock in {@code connection}'s transaction if it is free now; never waits.
     *
     * @return whether the transaction now holds the lock
     * @throws AcquireFailureException with reason INTERRUPTED if an interrupt was pending; the
     *     interrupt status is set again and nothing was taken
     * @throws IllegalStateException if {@code connection} is in autocommit mode (no transaction), or
     *     the registry is closing gracefully
     * @throws LockException if the server failed
     */
    public boolean tryAcquire(Connection connection) {
        try {
            return acquire(connection, Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AcquireFailureException(name, mode, AcquireFailureException.Reason.INTERRUPTED, null, e);
        }
    }

    private boolean tryOnce(Connection connection) {
        requireTransaction(connection);
        String function = mode == LockMode.SHARED ? "pg_try_advisory_xact_lock_shared" : "pg_try_advisory_xact_lock";
        try (PreparedStatement statement = connection.prepareStatement("SELECT " + function + call())) {
            key.bind(statement, 1);
            try (ResultSet rows = statement.executeQuery()) {
                return rows.next() && rows.getBoolean(1);
            }
        } catch (SQLException e) {
            throw translate(e);
        }
    }

    /**
     * Takes the lock in {@code connection}'s transaction, waiting at most {@code timeout}.
     * {@code Duration.ZERO} does not wait; {@link LockRegistry#FOREVER} waits without limit.
     *
     * @return whether the transaction now holds the lock; {@code false} once the timeout passed,
     *     with the transaction still usable
     * @throws InterruptedException if interrupted while waiting, or before the call (also for a
     *     zero timeout); nothing is held and the transaction is still usable (if the grant came first, this returns {@code true} with the
     *     interrupt status set instead)
     * @throws AcquireFailureException with reason DEADLOCK if PostgreSQL broke a deadlock by
     *     aborting this wait; the transaction is still usable, but it should usually roll back to
     *     free what it holds
     * @throws IllegalStateException if {@code connection} is in autocommit mode (no transaction), or
     *     the registry is closing gracefully
     */
    public boolean tryAcquire(Connection connection, Duration timeout) throws InterruptedException {
        Timeouts.check(timeout, "timeout");
        return acquire(connection, timeout);
    }

    /** A try for a zero timeout, else a wait; a pending interrupt ends either, as it does a handle's. */
    private boolean acquire(Connection connection, Duration timeout) throws InterruptedException {
        // a wait shows its backend in activity(), and a tracked hold needs it again: asked once (a round trip
        // on drivers other than PgJDBC)
        Integer pid = timeout.isZero() ? null : backendPid(connection);
        return tracked(connection, pid, take(connection, timeout, pid));
    }

    /** An acquisition not yet tracked: a {@link TransactionLockSet} tracks its members once it has them all. */
    boolean take(Connection connection, Duration timeout, @Nullable Integer pid) throws InterruptedException {
        registry.requireAdmitting(name);
        boolean mayWait = !timeout.isZero();
        return engine.observed(info, mayWait, null, pid, () -> {
            if (Thread.interrupted()) {
                throw new InterruptedException("interrupted before acquiring lock '" + name + "'");
            }
            return mayWait ? waitFor(connection, timeout) : tryOnce(connection);
        });
    }

    /** Tracks a hold that {@link #take} obtained. */
    /** Whether holds are tracked until their transaction ends (a transaction completion was given). */
    boolean tracks() {
        return completion != null;
    }

    void track(Connection connection, @Nullable Integer pid) {
        tracked(connection, pid, true);
    }

    private boolean waitFor(Connection connection, Duration timeout) throws InterruptedException {
        requireTransaction(connection);
        Wait wait = new Wait(connection, Timeouts.deadline(timeout));
        try {
            workers.execute(wait);
        } catch (RejectedExecutionException e) {
            throw LockRegistry.closedError(e);
        }
        try {
            return wait.result.get();
        } catch (InterruptedException e) {
            boolean abandoned = wait.cancellation.abandon();
            // the connection is the caller's: it must not see it again while the worker still uses it
            Boolean granted = wait.result.handle((value, failure) -> value).join();
            if (!abandoned && Boolean.TRUE.equals(granted)) {
                // granted before the interrupt landed; only a rollback could give it back, which is the caller's call
                Thread.currentThread().interrupt();
                return true;
            }
            throw e;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException failure) {
                throw failure;
            }
            throw new LockException("Waiting for lock '" + name + "' failed: " + e.getCause(), e.getCause());
        }
    }

    /**
     * Takes the lock waiting at most {@code timeout}, or throws.
     *
     * @throws AcquireFailureException if not obtained: contended, timed out, interrupted (the
     *     interrupt status is set again) or deadlock
     */
    public void hold(Connection connection, Duration timeout) {
        AcquireFailureException.requireAcquired(name, mode, timeout, () -> tryAcquire(connection, timeout));
    }

    private String call() {
        return key.isPair() ? "(?, ?)" : "(?)";
    }

    void requireTransaction(Connection connection) {
        try {
            if (connection.getAutoCommit()) {
                throw new IllegalStateException("Transaction-scoped lock '" + name + "' needs a connection inside a "
                        + "transaction, but this one is in autocommit mode, where PostgreSQL would release the lock "
                        + "at the end of the statement; call setAutoCommit(false) or run inside a transaction");
            }
        } catch (SQLException e) {
            throw SqlErrors.unexpected("check the transaction of", name, e);
        }
    }

    private RuntimeException translate(SQLException e) {
        return SqlErrors.lockFailure("acquire", name, mode, e);
    }

    /** The wait, inside a savepoint of the caller's transaction, on a registry thread. */
    private final class Wait implements Runnable {

        private final Connection connection;
        private final long deadline;
        final CompletableFuture<Boolean> result = new CompletableFuture<>();
        final Cancellation cancellation;

        Wait(Connection connection, long deadline) {
            this.connection = connection;
            this.deadline = deadline;
            // the connection is the caller's: cancels are repeated until one lands, but it is never aborted
            this.cancellation = new Cancellation(timer, workers, result, connection, null, 0);
        }

        @Override
        public void run() {
            try (Statement control = connection.createStatement()) {
                String previous = savepointAndTimeout(control);
                boolean granted = false;
                SQLException failure = null;
                String function = mode == LockMode.SHARED ? "pg_advisory_xact_lock_shared" : "pg_advisory_xact_lock";
                try (PreparedStatement wait = connection.prepareStatement("SELECT " + function + call()
                        + " FROM (SELECT set_config('lock_timeout', ?, true)) AS lock_timeout")) {
                    key.bind(wait, 1);
                    wait.setString(key.isPair() ? 3 : 2, Timeouts.lockTimeoutSetting(deadline));
                    if (cancellation.start(wait)) {
                        wait.executeQuery().close();
                        granted = cancellation.granted();
                    }
                } catch (SQLException e) {
                    failure = e;
                } finally {
                    cancellation.finish();
                }
                if (granted) {
                    keep(previous);
                    result.complete(true);
                } else {
                    // rolls back the lock if the grant crossed a cancel, and the lock_timeout with it
                    control.execute("ROLLBACK TO SAVEPOINT " + SAVEPOINT + "; RELEASE SAVEPOINT " + SAVEPOINT);
                    if (failure == null || SqlErrors.is(failure, SqlErrors.LOCK_NOT_AVAILABLE)
                            || (cancellation.isAbandoned() && SqlErrors.is(failure, SqlErrors.QUERY_CANCELED))) {
                        result.complete(false);
                    } else {
                        result.completeExceptionally(translate(failure));
                    }
                }
            } catch (SQLException e) {
                result.completeExceptionally(translate(e));
            } catch (RuntimeException | Error e) {
                result.completeExceptionally(e);
            }
        }

        private String savepointAndTimeout(Statement control) throws SQLException {
            control.execute("SAVEPOINT " + SAVEPOINT);
            try (ResultSet rows = control.executeQuery("SELECT current_setting('lock_timeout')")) {
                rows.next();
                return rows.getString(1);
            }
        }

        /** Keeps the lock: restores the caller's lock_timeout and folds the savepoint into the transaction. */
        private void keep(String previous) throws SQLException {
            try (PreparedStatement restore = connection.prepareStatement(
                    "SELECT set_config('lock_timeout', ?, true)")) {
                restore.setString(1, previous);
                restore.executeQuery().close();
            }
            try (Statement control = connection.createStatement()) {
                control.execute("RELEASE SAVEPOINT " + SAVEPOINT);
            }
        }
    }
}
