package dev.pals;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Where a registry keeps its locks, behind the handles: PostgreSQL ({@link LockEngine}) or this
 * JVM ({@link InMemoryEngine}). Holds what both do alike: telling observers, counting holds and
 * waits, and the ownership state of a handle's first hold and last release.
 */
abstract class Engine {

    private static final System.Logger LOG = System.getLogger(Engine.class.getName());

    private final LockObserver observer;
    /** Acquisitions that may wait and are not answered yet, for the activity snapshot. */
    private final Set<Waiter> waiters = ConcurrentHashMap.newKeySet();
    /** Holders with at least one hold, and tracked transaction holds. */
    final AtomicInteger heldCount = new AtomicInteger();
    private final TransactionHolds transactionHolds;

    Engine(List<LockObserver> observers) {
        this.observer = GuardedObserver.of(observers);
        this.transactionHolds = new TransactionHolds(observer, heldCount);
    }

    /**
     * An acquisition that may wait, from its start until it is answered. Identity matters: two
     * waiters for the same lock on the same thread are two entries.
     */
    static final class Waiter {
        final LockInfo info;
        final String owner = LockActivity.currentOwner();
        final Instant since = Instant.now();
        /** The handle of a session-scoped acquisition, to find its wait in the server; null for transaction locks. */
        final @Nullable Holder holder;
        /** The backend of a transaction lock's wait: the caller's connection. */
        final @Nullable Integer backendPid;

        Waiter(LockInfo info, @Nullable Holder holder, @Nullable Integer backendPid) {
            this.info = info;
            this.holder = holder;
            this.backendPid = backendPid;
        }
    }

    /**
     * Takes the lock for {@code holder}, telling the observers how it went. Without
     * {@code mayWait} it never waits for a holder.
     *
     * @param deadline in {@link System#nanoTime()} terms, {@link Long#MAX_VALUE} for none
     * @return whether the lock is now held
     * @throws InterruptedException if interrupted while waiting; nothing is then held
     */
    final boolean acquire(Holder holder, boolean mayWait, long deadline) throws InterruptedException {
        Attempt attempt = () -> {
            // one contract for every engine: a pending interrupt ends the call, even where the JVM alone could answer
            if (Thread.interrupted()) {
                throw new InterruptedException("interrupted before acquiring lock '" + holder.name + "'");
            }
            if (!admit(holder, mayWait, deadline)) {
                return false;
            }
            // observers are user code: the section starts once the engine's lock for the key is let go
            OpenSection section = holder.section;
            LockInfo reportedAs = holder.reportedAs;
            if (section != null && reportedAs != null) {
                section.start(observer, reportedAs);
            }
            return true;
        };
        return holder.observesAcquisition ? observed(holder.info, mayWait, holder, null, attempt) : attempt.run();
    }

    /** One acquisition, as {@link #observed} runs it. */
    @FunctionalInterface
    interface Attempt {
        boolean run() throws InterruptedException;
    }

    /**
     * Runs {@code attempt}, a handle's or a transaction lock's acquisition, telling the observers
     * how it ended and counting it as waiting meanwhile when it may wait.
     *
     * @param holder the handle of a session-scoped acquisition, whose backend is its wait's in the server
     * @param backendPid the backend of a transaction lock's wait
     */
    final boolean observed(LockInfo info, boolean mayWait, @Nullable Holder holder, @Nullable Integer backendPid,
            Attempt attempt) throws InterruptedException {
        LockObserver.Acquisition observed = observer.acquisitionStarted(info, mayWait);
        Waiter waiter = mayWait ? new Waiter(info, holder, backendPid) : null;
        if (waiter != null) {
            waiters.add(waiter);
        }
        boolean acquired;
        try {
            acquired = attempt.run();
        } catch (InterruptedException | RuntimeException | Error e) {
            observed.ended(LockObserver.Outcome.FAILED, e);
            throw e;
        } finally {
            if (waiter != null) {
                waiters.remove(waiter);
            }
        }
        observed.ended(acquired ? LockObserver.Outcome.ACQUIRED
                : mayWait ? LockObserver.Outcome.TIMED_OUT : LockObserver.Outcome.CONTENDED, null);
        return acquired;
    }

    /** {@link #acquire} without the observers: where the locks are kept decides. */
    abstract boolean admit(Holder holder, boolean mayWait, long deadline) throws InterruptedException;

    /**
     * Releases one hold of {@code holder}.
     *
     * @return whether it was held
     * @throws LockLostException if the lock was lost since it was acquired (reported once)
     */
    abstract boolean release(Holder holder);

    /**
     * The fencing token of {@code holder}'s hold now: issued at the first call for that hold, the
     * same at every later one.
     *
     * @throws IllegalStateException if this engine gives no tokens, or the holder does not hold
     * @throws LockLostException if the lock was lost
     */
    abstract long fencingToken(Holder holder);

    /** What {@code fencingToken()} throws in a registry built without fencing tokens. */
    static IllegalStateException fencingOff(String name) {
        return new IllegalStateException("Lock '" + name + "' has no fencing token: this LockRegistry was built "
                + "without them; build it with LockRegistry.Builder.fencingTokens(FencingTokens.CREATE or "
                + "REQUIRE), or set pals.fencing-tokens in Spring Boot");
    }

    /** Every hold and waiting acquisition now. */
    abstract List<LockActivity> activity();

    /** Keys tracked: held, or with an operation in flight. */
    abstract int trackedKeys();

    /** Connections out of the DataSource now. */
    abstract int openConnections();

    /** Periodic upkeep: loss checks and idle connections. */
    abstract void housekeep();

    /** The lease bounds of session locks, or {@code null} where locks are kept in this JVM. */
    abstract @Nullable LeaseBounds leaseBounds();

    /**
     * The second keys of the pair locks {@code (classId, objid)}, objid in {@code [from, to]}, held
     * anywhere this engine can see: by any session of the database, or in this JVM's table.
     *
     * @param name what the question is asked for, for error messages
     */
    abstract List<Integer> grantedPairs(String name, int classId, int from, int to) throws InterruptedException;

    /** Releases everything and wakes every waiter, for a registry being closed. */
    abstract void close(Duration patience);

    /** Releases every hold of {@code holder}, for a handle that became unreachable. */
    final void releaseAll(Holder holder) {
        try {
            while (holder.count > 0 && release(holder)) {
                // one hold per call
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, () -> "Releasing abandoned lock '" + holder.name + "' failed: " + e.getMessage());
        }
    }

    final LockObserver observer() {
        return observer;
    }

    /** The transaction-scoped holds the registry is told the end of. */
    final TransactionHolds transactionHolds() {
        return transactionHolds;
    }

    final Set<Waiter> waiters() {
        return waiters;
    }

    final int heldCount() {
        return heldCount.get();
    }

    final int waitingCount() {
        return waiters.size();
    }

    /**
     * Gives {@code holder} its first hold; called under the key's lock, on the acquiring thread,
     * which starts its section in {@link #acquire} once that lock is let go.
     */
    final void granted(Holder holder) {
        holder.count = 1;
        holder.lost = null;
        holder.releasedByClose = false;
        holder.owner = LockActivity.currentOwner();
        holder.since = Instant.now();
        holder.holds++;
        holder.watch(this);
        if (holder.reportedAs != null) {
            heldCount.incrementAndGet();
            holder.section = new OpenSection();
        }
    }

    /**
     * Takes every hold of {@code holder} away; called under the key's lock.
     *
     * @return its section, for the caller to end once the lock is released and the key's lock let go
     */
    final @Nullable OpenSection letGo(Holder holder) {
        holder.count = 0;
        holder.unwatch();
        if (holder.reportedAs == null) {
            return null;
        }
        heldCount.decrementAndGet();
        return holder.section;
    }
}
