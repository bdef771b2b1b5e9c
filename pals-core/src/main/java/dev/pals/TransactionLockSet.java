package dev.pals;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Several transaction-scoped advisory locks taken all or nothing in the caller's transaction, from
 * {@link LockRegistry#transactionLocks}: both accounts of a transfer that moves the money in the
 * same transaction. Each member is a {@link TransactionLock}, taken with
 * {@code pg_advisory_xact_lock} and released by PostgreSQL when the transaction commits or rolls
 * back; there is no release method. Names that lead to the same key are one member.
 *
 * <p><b>Order.</b> Members are taken in ascending order of their {@link LockKey#value()}, the order
 * of {@link AdvisoryLockSet}, so two sets that overlap, of either kind and in any process, never wait
 * for each other in a cycle.
 *
 * <p><b>All or nothing.</b> Transaction locks cannot be unlocked, so the members are taken inside a
 * savepoint: if one is not obtained (contention, timeout, interrupt, deadlock, a server failure),
 * the transaction rolls back to that savepoint, which frees the members taken before it in the
 * server, and the caller's transaction stays usable with its {@code lock_timeout} as it was. Work the
 * caller did in the transaction before the call is kept.
 *
 * <p><b>Contention and timeout.</b> Each member contends as a {@link TransactionLock} does.
 * {@link #tryAcquire(Connection)} waits for no member; {@link #tryAcquire(Connection, Duration)}
 * waits in the server for each member in turn, holding those before it, and its timeout bounds the
 * whole set: each member waits at most what is left of it (a member reached with nothing left is
 * still tried once, without waiting).
 *
 * <p><b>Interrupt.</b> An interrupt cancels the member's wait and rolls back to the savepoint:
 * nothing of the set is held. If the last member was granted as the interrupt came, the set is held
 * and the interrupt status is set again, as for a {@link TransactionLock}.
 *
 * <p><b>Connection loss.</b> The transaction is lost with its connection, and every member with it.
 *
 * <p>A set keeps no state between calls: one set may serve any number of transactions and threads.
 */
public final class TransactionLockSet {

    private static final String SAVEPOINT = "pals_lock_set";

    /** The members in the order they are taken: ascending key value, one per key. */
    private final List<TransactionLock> members;
    private final LockMode mode;

    private TransactionLockSet(List<TransactionLock> members, LockMode mode) {
        this.members = members;
        this.mode = mode;
    }

    /** A set of {@code names}, one transaction lock of {@code registry} per distinct key. */
    static TransactionLockSet of(LockRegistry registry, Collection<String> names, LockOptions options) {
        Objects.requireNonNull(options, "options");
        // the order of AdvisoryLockSet, so that sets of both kinds never wait for each other in a cycle
        List<TransactionLock> ordered = LockKey.inSetOrder(names, name -> registry.transactionLock(name, options),
                TransactionLock::key);
        return new TransactionLockSet(ordered, options.mode());
    }

    /** The members' names, one per distinct key, in the order they are acquired. */
    public List<String> names() {
        return members.stream().map(TransactionLock::name).toList();
    }

    /** The members' keys, distinct, in the order they are acquired: ascending {@link LockKey#value()}. */
    public List<LockKey> keys() {
        return members.stream().map(TransactionLock::key).toList();
    }

    /** Exclusive or shared, for every member. */
    public LockMode mode() {
        return mode;
    }

    /**
     * Takes every member in {@code connection}'s transaction if each is free now; never waits.
     *
     * @return whether the transaction now holds every member; when {@code false}, it holds none
     *     of them and is still usable
     * @throws AcquireFailureException with reason INTERRUPTED if an interrupt was pending; the
     *     interrupt status is set again and nothing of the set is held
     * @throws IllegalStateException if {@code connection} is in autocommit mode (no transaction), or
     *     the registry is closing gracefully
     * @throws LockException if the server failed
     */
    public boolean tryAcquire(Connection connection) {
        try {
            return take(connection, false, 0) < 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw interrupted(e);
        }
    }

    /**
     * Takes every member in {@code connection}'s transaction, waiting at most {@code timeout} in
     * all. {@code Duration.ZERO} does not wait; {@link LockRegistry#FOREVER} waits without limit.
     *
     * @return whether the transaction now holds every member; {@code false} once the timeout
     *     passed, and then it holds none of them and is still usable
     * @throws InterruptedException if interrupted while waiting, or before the call; nothing of
     *     the set is held and the transaction is still usable
     * @throws AcquireFailureException with reason DEADLOCK if PostgreSQL broke a deadlock with a
     *     lock held outside the set by aborting a member's wait; nothing of the set is held
     * @throws IllegalStateException if {@code connection} is in autocommit mode (no transaction), or
     *     the registry is closing gracefully
     * @throws IllegalArgumentException if the timeout is negative or too long
     */
    public boolean tryAcquire(Connection connection, Duration timeout) throws InterruptedException {
        Timeouts.check(timeout, "timeout");
        boolean mayWait = !timeout.isZero();
        return take(connection, mayWait, mayWait ? Timeouts.deadline(timeout) : 0) < 0;
    }

    /**
     * Takes every member waiting at most {@code timeout} for the whole set, or throws.
     *
     * @throws AcquireFailureException if the set was not obtained, naming the member that was not:
     *     contended, timed out, interrupted (the interrupt status is set again) or deadlock; nothing
     *     of the set is held and the transaction is still usable
     */
    public void hold(Connection connection, Duration timeout) {
        Timeouts.check(timeout, "timeout");
        boolean mayWait = !timeout.isZero();
        int missing;
        try {
            missing = take(connection, mayWait, mayWait ? Timeouts.deadline(timeout) : 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw interrupted(e);
        }
        if (missing >= 0) {
            String member = members.get(missing).name();
            String detail = "one of the set " + names() + "; nothing of the set is held";
            throw mayWait
                    ? new AcquireFailureException(member, mode, AcquireFailureException.Reason.TIMED_OUT,
                            detail + ", the set waited " + Timeouts.describe(timeout), null)
                    : new AcquireFailureException(member, mode, AcquireFailureException.Reason.CONTENDED, detail, null);
        }
    }

    /**
     * Takes the members in order inside a savepoint, rolling back to it if it does not get them all.
     *
     * @return -1 when every member is held, else the index of the member not obtained
     */
    private int take(Connection connection, boolean mayWait, long deadline) throws InterruptedException {
        members.get(0).requireTransaction(connection);
        // asked once for the set: every member's wait and tracked hold shows the same backend
        Integer pid = mayWait ? TransactionLock.backendPid(connection) : null;
        execute(connection, "SAVEPOINT " + SAVEPOINT);
        int taken = 0;
        boolean acquired = true;
        try {
            while (taken < members.size()) {
                acquired = members.get(taken).take(connection, mayWait ? Timeouts.left(deadline) : Duration.ZERO, pid);
                if (!acquired) {
                    break;
                }
                taken++;
            }
            if (acquired) {
                // folds the members into the caller's transaction, which now holds them until it ends
                execute(connection, "RELEASE SAVEPOINT " + SAVEPOINT);
            }
        } catch (InterruptedException | RuntimeException | Error e) {
            rollBack(connection, e);
            throw e;
        }
        if (!acquired) {
            rollBack(connection, null);
            return taken;
        }
        // asked once for the set here too, when a no-wait set did not ask it above
        Integer trackedPid = pid != null || !members.get(0).tracks() ? pid : TransactionLock.backendPid(connection);
        for (TransactionLock member : members) {
            member.track(connection, trackedPid);
        }
        return -1;
    }

    /** Frees the members taken since the savepoint; a failure is added to {@code primary} if there is one. */
    private void rollBack(Connection connection, @Nullable Throwable primary) {
        try {
            execute(connection, "ROLLBACK TO SAVEPOINT " + SAVEPOINT + "; RELEASE SAVEPOINT " + SAVEPOINT);
        } catch (RuntimeException e) {
            if (primary == null) {
                throw e;
            }
            primary.addSuppressed(e);
        }
    }

    private void execute(Connection connection, String sql) {
        try (Statement statement = connection.createStatement()) {
            statement.execute(sql);
        } catch (SQLException e) {
            throw SqlErrors.lockFailure("acquire", names().toString(), mode, e);
        }
    }

    private AcquireFailureException interrupted(InterruptedException e) {
        return new AcquireFailureException(names().toString(), mode, AcquireFailureException.Reason.INTERRUPTED,
                "nothing of the set is held", e);
    }

    /** What is left of the set's timeout for the next member. */
    @Override
    public String toString() {
        return "TransactionLockSet[" + names() + ", " + mode.label() + "]";
    }
}
