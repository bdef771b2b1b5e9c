package dev.pals.spring.r2dbc;

import dev.pals.AcquireFailureException;
import dev.pals.LockException;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import dev.pals.TransactionLock;
import dev.pals.UnsupportedLockServerException;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.springframework.r2dbc.connection.ConnectionFactoryUtils;
import org.springframework.transaction.NoTransactionException;
import org.springframework.transaction.reactive.TransactionSynchronizationManager;
import reactor.core.publisher.Mono;

/**
 * Transaction-scoped advisory locks in reactive R2DBC transactions: {@code pg_advisory_xact_lock}
 * on the connection of the subscriber's current transaction (a {@code TransactionalOperator}, or a
 * {@code @Transactional} method returning {@code Mono} or {@code Flux}, with an
 * {@code R2dbcTransactionManager} on the service's {@link ConnectionFactory}). PostgreSQL releases
 * the lock when that transaction commits or rolls back; there is no release method.
 *
 * <pre>{@code
 * transactionalOperator.transactional(
 *         locks.lock("account:" + id, LockOptions.exclusive(), Duration.ofSeconds(5))
 *                 .then(readBalance(id)).flatMap(balance -> writeBalance(id, balance + amount)));
 * }</pre>
 *
 * <p>A name is the key the registry gives it, so the lock excludes JDBC holders of the same name
 * ({@link LockRegistry#transactionLock}, {@code @AdvisoryLocked}) and session locks of it alike.
 * Nothing happens until subscription, and no thread is blocked: the wait is the server's.
 *
 * <p><b>Contention.</b> Other transactions and sessions contend in the server, in its FIFO queue.
 * Taking it twice in one transaction succeeds at once (PostgreSQL counts it).
 *
 * <p><b>Timeout.</b> {@code Duration.ZERO} tries once ({@code pg_try_advisory_xact_lock});
 * {@link LockRegistry#FOREVER} waits without limit. A wait runs inside a savepoint under a
 * {@code lock_timeout}: when it times out, or fails otherwise, the transaction is rolled back to
 * that savepoint, so it stays usable, and its {@code lock_timeout} is as it was.
 *
 * <p><b>Cancellation.</b> Cancelling the subscription does not cancel the statement the server is
 * running: the connection goes on waiting until the lock is granted or the timeout passes, and a
 * lock granted then is held by the transaction until it ends, as the transaction manager ends it on
 * cancel (a {@code TransactionalOperator} rolls back). Whatever happens, the lock never outlives
 * the transaction; prefer finite timeouts, which bound how long a cancelled wait keeps the
 * connection.
 *
 * <p>The registry's observers, metrics and {@code activity()} do not see these acquisitions.
 */
public final class ReactiveTransactionLocks {

    private final LockRegistry registry;
    private final ConnectionFactory connectionFactory;

    /**
     * Locks named in {@code registry}'s namespace, taken in transactions of {@code connectionFactory},
     * which must be the one the transaction manager binds (the service's, as a bean).
     */
    public ReactiveTransactionLocks(LockRegistry registry, ConnectionFactory connectionFactory) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.connectionFactory = Objects.requireNonNull(connectionFactory, "connectionFactory");
    }

    /**
     * Takes the lock {@code name} in the mode of {@code options} (their blocking and timeout do not
     * apply) in the subscriber's current reactive transaction, waiting at most {@code timeout}.
     *
     * @return on subscription, whether the transaction now holds the lock: {@code false} when another
     *     holder had it at once ({@code Duration.ZERO}) or for the whole wait, with the transaction still
     *     usable; an error as for {@link #lock}, never CONTENDED nor TIMED_OUT
     */
    public Mono<Boolean> tryLock(String name, LockOptions options, Duration timeout) {
        return Mono.defer(() -> {
            // the core's checks and messages for the timeout and the name; a closed registry refuses here too
            LockOptions.exclusive().withTimeout(timeout);
            TransactionLock lock = registry.transactionLock(name, options);
            if (registry.isShuttingDown()) {
                return Mono.error(new IllegalStateException("This LockRegistry is shutting down and takes no new "
                        + "locks, so lock '" + name + "' was not acquired"));
            }
            long deadline = XactLockStatements.deadline(timeout);
            return transactionConnection(name).flatMap(connection -> {
                XactLockStatements statements = new XactLockStatements(connection, name, lock.key(), lock.mode());
                return timeout.isZero() ? statements.tryOnce() : statements.waitUntil(deadline);
            });
        });
    }

    /**
     * Takes the lock as {@link #tryLock} does, or fails.
     *
     * @return on subscription, completes once the transaction holds the lock; fails with
     *     {@link AcquireFailureException} when it did not get it: CONTENDED ({@code Duration.ZERO}),
     *     TIMED_OUT, or DEADLOCK when PostgreSQL broke a deadlock by aborting this wait (the transaction
     *     is still usable, but should usually roll back to free what it holds); with
     *     {@link IllegalStateException} outside a reactive transaction, in a transaction of another
     *     ConnectionFactory, or once the registry is shutting down; with
     *     {@link UnsupportedLockServerException} when the transaction's database is not PostgreSQL;
     *     with {@link IllegalArgumentException} for a blank name or a timeout PostgreSQL cannot wait;
     *     with {@link LockException} when the server failed
     */
    public Mono<Void> lock(String name, LockOptions options, Duration timeout) {
        return tryLock(name, options, timeout).flatMap(acquired -> acquired ? Mono.empty()
                : Mono.error(timeout.isZero()
                        ? new AcquireFailureException(name, options.mode(), AcquireFailureException.Reason.CONTENDED,
                                null, null)
                        : new AcquireFailureException(name, options.mode(), AcquireFailureException.Reason.TIMED_OUT,
                                "waited " + (timeout.equals(LockRegistry.FOREVER) ? "forever" : timeout), null)));
    }

    /** The connection of the subscriber's transaction, if it is a transaction of the service's ConnectionFactory. */
    private Mono<Connection> transactionConnection(String name) {
        return TransactionSynchronizationManager.forCurrentTransaction()
                .onErrorMap(NoTransactionException.class, none -> noTransaction(name, none))
                .flatMap(transaction -> {
                    if (!transaction.isActualTransactionActive()) {
                        return Mono.error(noTransaction(name, null));
                    }
                    if (!transaction.hasResource(connectionFactory)) {
                        return Mono.error(new IllegalStateException("Transaction-scoped lock '" + name + "' found a "
                                + "reactive transaction that does not use the service's ConnectionFactory, so the "
                                + "lock would not live and die with it; run it in a transaction of an "
                                + "R2dbcTransactionManager on that ConnectionFactory, or take a session lock instead"));
                    }
                    // bound to the transaction: the transaction manager closes it, not this
                    return ConnectionFactoryUtils.getConnection(connectionFactory);
                })
                .flatMap(connection -> {
                    String product = connection.getMetadata().getDatabaseProductName();
                    if (!"PostgreSQL".equalsIgnoreCase(product)) {
                        return Mono.error(new UnsupportedLockServerException("Transaction-scoped lock '" + name
                                + "' needs PostgreSQL, but the reactive transaction's connection is to " + product
                                + ": advisory locks need PostgreSQL. Point the ConnectionFactory at a PostgreSQL "
                                + "database (r2dbc:postgresql://...).", null));
                    }
                    return Mono.just(connection);
                });
    }

    private static IllegalStateException noTransaction(String name, @Nullable Throwable cause) {
        return new IllegalStateException("Transaction-scoped lock '" + name + "' needs an active reactive "
                + "transaction, but the subscriber has none, and outside one PostgreSQL would release the lock at the "
                + "end of the statement; subscribe inside TransactionalOperator.transactional(...) or a @Transactional "
                + "method returning Mono or Flux, with an R2dbcTransactionManager on the service's ConnectionFactory",
                cause);
    }
}
