package dev.pals.spring.r2dbc;

import dev.pals.AcquireFailureException;
import dev.pals.LockCapacityException;
import dev.pals.LockException;
import dev.pals.LockKey;
import dev.pals.LockMode;
import dev.pals.LockRegistry;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.R2dbcException;
import io.r2dbc.spi.Statement;
import java.time.Duration;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The statements of one transaction-scoped acquisition on an R2DBC connection that is inside a
 * transaction: the same SQL as the JDBC {@code TransactionLock}, so that both exclude each other
 * on one key and a timed-out wait leaves the transaction as usable.
 */
final class XactLockStatements {

    private static final String SAVEPOINT = "pals_lock_wait";
    private static final String LOCK_NOT_AVAILABLE = "55P03";
    private static final String QUERY_CANCELED = "57014";
    private static final String DEADLOCK_DETECTED = "40P01";
    private static final String OUT_OF_MEMORY = "53200";

    private final Connection connection;
    private final String name;
    private final LockKey key;
    private final LockMode mode;

    /** {@code key} is a named lock's, one bigint. */
    XactLockStatements(Connection connection, String name, LockKey key, LockMode mode) {
        this.connection = connection;
        this.name = name;
        this.key = key;
        this.mode = mode;
    }

    /** Takes the lock if it is free now; never waits, so needs no savepoint. */
    Mono<Boolean> tryOnce() {
        String function = mode == LockMode.SHARED ? "pg_try_advisory_xact_lock_shared" : "pg_try_advisory_xact_lock";
        return Mono.defer(() -> single(bindKey(connection.createStatement("SELECT " + function + "($1)")), Boolean.class))
                .onErrorMap(R2dbcException.class, this::translate);
    }

    /**
     * Waits in the server until {@code deadline} ({@link System#nanoTime()}, {@link Long#MAX_VALUE}
     * for no limit), inside a savepoint: a timeout (55P03) or any other failure of the wait rolls back
     * to it, which also undoes the {@code lock_timeout} set for the wait, so the transaction goes on;
     * a grant restores the caller's {@code lock_timeout} and folds the savepoint into the transaction.
     */
    Mono<Boolean> waitUntil(long deadline) {
        return execute("SAVEPOINT " + SAVEPOINT)
                .then(single("SELECT current_setting('lock_timeout')", String.class))
                .flatMap(previous -> serverWait(deadline).flatMap(granted -> granted ? keep(previous) : Mono.just(false)))
                .onErrorMap(R2dbcException.class, this::translate);
    }

    /** The wait under a lock_timeout for the time left; not granted: rolled back to the savepoint. */
    private Mono<Boolean> serverWait(long deadline) {
        String function = mode == LockMode.SHARED ? "pg_advisory_xact_lock_shared" : "pg_advisory_xact_lock";
        return Mono.defer(() -> execute(bindKey(connection.createStatement("SELECT " + function
                        + "($1) FROM (SELECT set_config('lock_timeout', $2, true)) AS lock_timeout"))
                        .bind(1, lockTimeoutSetting(deadline))))
                .thenReturn(true)
                .onErrorResume(R2dbcException.class, failure -> rollBackToSavepoint()
                        .then(LOCK_NOT_AVAILABLE.equals(failure.getSqlState()) ? Mono.just(false)
                                : Mono.error(translate(failure))));
    }

    /** Keeps the granted lock: the caller's lock_timeout back, the savepoint folded into the transaction. */
    private Mono<Boolean> keep(String previous) {
        return Mono.defer(() -> execute(connection.createStatement("SELECT set_config('lock_timeout', $1, true)")
                        .bind(0, previous)))
                .then(execute("RELEASE SAVEPOINT " + SAVEPOINT)).thenReturn(true);
    }

    private Mono<Void> rollBackToSavepoint() {
        return execute("ROLLBACK TO SAVEPOINT " + SAVEPOINT).then(execute("RELEASE SAVEPOINT " + SAVEPOINT));
    }

    /** The {@code lock_timeout} for the time left: whole milliseconds, at least 1, or 0 for no limit. */
    static String lockTimeoutSetting(long deadline) {
        if (deadline == Long.MAX_VALUE) {
            return "0";
        }
        long millis = (Math.max(0, deadline - System.nanoTime()) + 999_999) / 1_000_000;
        return Long.toString(Math.max(1, Math.min(millis, Integer.MAX_VALUE)));
    }

    /** A deadline for {@code timeout} from now, as {@link #waitUntil} takes it. */
    static long deadline(Duration timeout) {
        return timeout.equals(LockRegistry.FOREVER) ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
    }

    /** The key of a named lock is one bigint; r2dbc-postgresql sends a Long as int8. */
    private Statement bindKey(Statement statement) {
        return statement.bind(0, key.value());
    }

    private Mono<Void> execute(String sql) {
        return Mono.defer(() -> execute(connection.createStatement(sql)));
    }

    private <T> Mono<T> single(String sql, Class<T> type) {
        return Mono.defer(() -> single(connection.createStatement(sql), type));
    }

    /** Runs the statement and drains its results; a server error surfaces from the results, not from execute(). */
    private static Mono<Void> execute(Statement statement) {
        return Flux.from(statement.execute()).concatMap(result -> result.getRowsUpdated()).then();
    }

    private static <T> Mono<T> single(Statement statement, Class<T> type) {
        return Flux.from(statement.execute())
                .concatMap(result -> result.map((row, metadata) -> row.get(0, type)))
                .single();
    }

    /** What a failed lock statement means, as the JDBC path says it. */
    private RuntimeException translate(R2dbcException e) {
        String state = e.getSqlState();
        if (DEADLOCK_DETECTED.equals(state)) {
            return new AcquireFailureException(name, mode, AcquireFailureException.Reason.DEADLOCK, null, e);
        }
        if (OUT_OF_MEMORY.equals(state)) {
            return new LockCapacityException(name, e);
        }
        if (QUERY_CANCELED.equals(state)) {
            return new LockException("PostgreSQL cancelled the wait for lock '" + name + "' before its timeout, "
                    + "probably because the server's statement_timeout is shorter than the wait: raise it (0 turns "
                    + "it off) for the user or database that takes the lock, or wait less (" + e.getMessage() + ")", e);
        }
        return new LockException("PostgreSQL failed while trying to acquire lock '" + name + "': " + e.getMessage()
                + " (SQLSTATE " + state + ")", e);
    }
}
