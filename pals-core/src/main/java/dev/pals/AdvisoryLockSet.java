package dev.pals;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * A handle on several advisory locks taken all or nothing, from {@link LockRegistry#locks}: both
 * accounts of a transfer, every row of a batch. The set holds when it holds every member; an
 * acquisition that does not get them all gives back those it got before it answers, so a set is
 * never left half held by a failure: contention, timeout, interrupt, a server failure, or the loss
 * of a member while the set waited for a later one. Names that lead to the same key are one member.
 *
 * <p><b>Order.</b> Members are taken one by one in ascending order of their {@link LockKey#value()},
 * the same in every registry, process and engine, and whatever order the names were given in. So
 * two sets that overlap can never wait for each other in a cycle: one of them always gets the
 * contested key first and finishes. This matters because PostgreSQL cannot break such a deadlock:
 * a registry waits in the server on a connection that holds nothing (see {@link LockRegistry}),
 * so the server sees no cycle. Locks the caller already holds outside the set are not in this
 * order; taking a set while holding other locks can deadlock as any out-of-order locking can.
 *
 * <p><b>Contention.</b> Each member contends as an {@link AdvisoryLock} does: in the JVM with the
 * handles of the same registry, in the server with everyone else. {@link #tryAcquire()} waits for
 * no member; {@link #tryAcquire(Duration)} waits in the server for each member in turn, while
 * holding those before it, and the timeout bounds the whole set: each member waits at most what is
 * left of it (a member reached with nothing left is still tried once, without waiting).
 *
 * <p><b>Interrupt.</b> A waiting thread that is interrupted stops waiting, cancels its wait in the
 * server, gives back the members it got and holds nothing afterwards.
 *
 * <p><b>Loss.</b> A member whose PostgreSQL session ends is lost as a single lock is, and the set
 * with it: {@link #isHeld()} turns {@code false} and the next {@link #release()} releases the
 * members still held and throws the member's {@link LockLostException}. Until that release the
 * other members stay held, so release in a {@code finally} or use {@link #hold()} with
 * try-with-resources.
 *
 * <p><b>Re-entry.</b> Acquiring a set that holds is counted, as for a handle, and needs as many
 * releases. A set that lost a member must be released before it is acquired again.
 *
 * <p>A set is one owner, as a handle is. Its methods may be called from any thread, but two
 * threads acquiring one set at the same time get re-entries of each other's members; give each
 * caller a set of its own (they are cheap: no round trip until acquired).
 */
public final class AdvisoryLockSet {

    /** The members in the order they are taken: ascending key value, one per key. */
    private final List<AdvisoryLock> members;
    private final LockRegistry registry;
    private final LockMode mode;
    private final boolean blocking;
    private final Duration timeout;

    private AdvisoryLockSet(List<AdvisoryLock> members, LockRegistry registry, LockMode mode, boolean blocking,
            Duration timeout) {
        this.members = members;
        this.registry = registry;
        this.mode = mode;
        this.blocking = blocking;
        this.timeout = timeout;
    }

    /** A set of {@code names}, made of one handle of {@code registry} per distinct key. */
    static AdvisoryLockSet of(LockRegistry registry, Collection<String> names, LockOptions options) {
        Objects.requireNonNull(options, "options");
        List<AdvisoryLock> ordered = LockKey.inSetOrder(names, name -> registry.lock(name, options), AdvisoryLock::key);
        AdvisoryLock first = ordered.get(0);
        return new AdvisoryLockSet(ordered, registry, options.mode(), first.isBlocking(), first.timeout());
    }

    /** The members' names, one per distinct key, in the order they are acquired. */
    public List<String> names() {
        return members.stream().map(AdvisoryLock::name).toList();
    }

    /** The members' keys, distinct, in the order they are acquired: ascending {@link LockKey#value()}. */
    public List<LockKey> keys() {
        return members.stream().map(AdvisoryLock::key).toList();
    }

    /** Exclusive or shared, for every member. */
    public LockMode mode() {
        return mode;
    }

    /** Whether {@link #acquire()} and {@link #hold()} wait by default. */
    public boolean isBlocking() {
        return blocking;
    }

    /** How long {@link #acquire()} and {@link #hold()} wait by default, for the whole set. */
    public Duration timeout() {
        return timeout;
    }

    /**
     * Acquires every member if each is free now; never waits for a holder. One round trip per
     * member, or none where another handle of this registry decides.
     *
     * @return whether this set now holds every member; when {@code false}, it holds none
     * @throws AcquireFailureException with reason INTERRUPTED if the thread was interrupted, also
     *     before the call; the interrupt status is set again and nothing is held
     * @throws LockException if the server failed, or a member was lost during the acquisition;
     *     nothing is then held
     * @throws IllegalStateException if the registry is closed or closing gracefully, or if this
     *     set lost a member and was not released since
     */
    public boolean tryAcquire() {
        try {
            return take(false, 0) < 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AcquireFailureException(names().toString(), mode, AcquireFailureException.Reason.INTERRUPTED,
                    "nothing of the set is held", e);
        }
    }

    /**
     * Acquires every member, waiting at most {@code timeout} in all: each member waits in the
     * server, holding those before it, for at most what is left of the timeout.
     * {@code Duration.ZERO} does not wait; {@link LockRegistry#FOREVER} waits without limit.
     *
     * @return whether this set now holds every member; {@code false} once the timeout passed,
     *     and then it holds none
     * @throws InterruptedException if the thread was interrupted while waiting, or before the
     *     call; the server wait is cancelled and nothing is held
     * @throws LockException if the server or a connection failed, or a member was lost while the
     *     set waited for a later one ({@link LockLostException}); nothing is then held
     * @throws IllegalStateException if the registry is closed, or closed during the wait, or
     *     closing gracefully; or if this set lost a member and was not released since
     * @throws IllegalArgumentException if the timeout is negative or too long
     */
    public boolean tryAcquire(Duration timeout) throws InterruptedException {
        Timeouts.check(timeout, "timeout");
        boolean mayWait = !timeout.isZero();
        return take(mayWait, mayWait ? Timeouts.deadline(timeout) : 0) < 0;
    }

    /**
     * Acquires with this set's defaults: {@link #tryAcquire(Duration)} with {@link #timeout()}
     * when {@link #isBlocking()}, else without waiting.
     *
     * @return whether this set now holds every member
     * @throws InterruptedException if interrupted while waiting; nothing is then held
     */
    public boolean acquire() throws InterruptedException {
        return tryAcquire(blocking ? timeout : Duration.ZERO);
    }

    /**
     * Acquires with this set's defaults, or throws: the form for try-with-resources.
     *
     * @return the hold, which releases every member on {@link HeldLockSet#close()}
     * @throws AcquireFailureException if the set was not obtained, naming the member that was not:
     *     contended, timed out, or interrupted (the interrupt status is set again); nothing is held
     */
    public HeldLockSet hold() {
        return hold(blocking ? timeout : Duration.ZERO);
    }

    /**
     * Acquires waiting at most {@code timeout} for the whole set, or throws: the form for
     * try-with-resources.
     *
     * @return the hold, which releases every member on {@link HeldLockSet#close()}
     * @throws AcquireFailureException if the set was not obtained, naming the member that was not,
     *     with the reason; nothing is held
     */
    public HeldLockSet hold(Duration timeout) {
        Timeouts.check(timeout, "timeout");
        boolean mayWait = !timeout.isZero();
        int missing;
        try {
            missing = take(mayWait, mayWait ? Timeouts.deadline(timeout) : 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AcquireFailureException(names().toString(), mode, AcquireFailureException.Reason.INTERRUPTED,
                    "nothing of the set is held", e);
        }
        if (missing >= 0) {
            String member = members.get(missing).name();
            String detail = "one of the set " + names() + "; nothing of the set is held";
            throw mayWait
                    ? new AcquireFailureException(member, mode, AcquireFailureException.Reason.TIMED_OUT,
                            detail + ", the set waited " + Timeouts.describe(timeout), null)
                    : new AcquireFailureException(member, mode, AcquireFailureException.Reason.CONTENDED, detail, null);
        }
        return new HeldLockSet(this);
    }

    /**
     * Acquires with this set's defaults without tying up the calling thread: {@link #acquireAsync(Duration)}
     * with {@link #timeout()} when {@link #isBlocking()}, else without waiting.
     */
    public CompletableFuture<Boolean> acquireAsync() {
        return acquireAsync(blocking ? timeout : Duration.ZERO);
    }

    /**
     * Acquires every member on a registry thread, as {@link #tryAcquire(Duration)} does: in the one
     * key order, waiting in the server at most {@code timeout} for the whole set; the caller's
     * thread is free at once. The future completes with whether the set holds every member
     * ({@code false} once the timeout passed, holding none), or exceptionally as
     * {@code tryAcquire(Duration)} would throw, nothing then held, or with
     * {@link AcquireFailureException} of reason CANCELLED if the registry's thread was interrupted.
     *
     * <p><b>Cancel.</b> Cancelling the future cancels the server wait of the member being waited
     * for and gives back those already taken; a grant of the whole set that crossed the cancel is
     * released, so a cancelled future never leaves a member held. Queueing for a registry thread
     * and the registry's task decorator are as for {@link AdvisoryLock#acquireAsync(Duration)}.
     *
     * @throws IllegalArgumentException if the timeout is negative or too long
     */
    public CompletableFuture<Boolean> acquireAsync(Duration timeout) {
        Timeouts.check(timeout, "timeout");
        return registry.acquireAsync(AsyncLocks.Target.of(this), timeout);
    }

    /**
     * Releases one hold of every member once {@code delay} has passed, on a registry thread, as
     * {@link #release()} does; the caller returns at once, and no thread waits for the server.
     * The members stay held meanwhile.
     *
     * @return completes with what {@link #release()} returned, or exceptionally as it would throw
     *     ({@link LockLostException} if a member was lost meanwhile, the others released); with
     *     {@code true} if the registry was closed first, which released every member
     * @throws IllegalArgumentException if the delay is negative or longer than about 24 days
     */
    public CompletableFuture<Boolean> releaseAfter(Duration delay) {
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative() || delay.compareTo(Timeouts.LONGEST) > 0) {
            throw new IllegalArgumentException("delay must be between 0 and " + Timeouts.LONGEST + ", but was " + delay);
        }
        return registry.releaseAfter(AsyncLocks.Target.of(this), delay);
    }

    /**
     * Releases one hold of every member, in the reverse of the acquisition order. Never waits for
     * other holders. Every member is released even when one fails; the first failure is then
     * thrown, the others added to it as suppressed.
     *
     * @return {@code true} if this set held, {@code false} if it did not
     * @throws LockLostException if a member was lost while held (reported once; the set is then
     *     free to acquire again)
     * @throws IllegalStateException if the registry is closed (its locks were released then)
     */
    public boolean release() {
        boolean released = false;
        RuntimeException failure = null;
        for (int i = members.size() - 1; i >= 0; i--) {
            try {
                released |= members.get(i).release();
            } catch (RuntimeException e) {
                failure = joined(failure, e);
            }
        }
        if (failure != null) {
            throw failure;
        }
        return released;
    }

    /**
     * Whether this set holds every member. Answered in the JVM, without a round trip: it turns
     * false when the registry notices that a member's session ended.
     */
    public boolean isHeld() {
        for (AdvisoryLock member : members) {
            if (!member.isHeld()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Takes the members in order, giving back what it took if it does not get them all.
     *
     * @return -1 when every member is held, else the index of the member not obtained
     */
    private int take(boolean mayWait, long deadline) throws InterruptedException {
        requireWhole();
        int taken = 0;
        boolean acquired = true;
        try {
            while (taken < members.size()) {
                AdvisoryLock member = members.get(taken);
                acquired = mayWait ? member.tryAcquire(Timeouts.left(deadline)) : member.tryAcquire(Duration.ZERO);
                if (!acquired) {
                    break;
                }
                taken++;
                requireNoneLost(taken);
            }
        } catch (InterruptedException | RuntimeException | Error e) {
            giveBack(taken, e);
            throw e;
        }
        if (acquired) {
            return -1;
        }
        RuntimeException failure = giveBack(taken, null);
        if (failure != null) {
            throw failure;
        }
        return taken;
    }

    /** Refuses to acquire a set that lost a member and still holds others, whose counts would part. */
    private void requireWhole() {
        boolean anyHeld = false;
        boolean allHeld = true;
        for (AdvisoryLock member : members) {
            anyHeld |= member.isHeld();
            allHeld &= member.isHeld();
        }
        if (anyHeld && !allHeld) {
            throw new IllegalStateException("The lock set " + names() + " lost a member and still holds the others; "
                    + "release() it (which reports the loss) before acquiring it again");
        }
    }

    /**
     * Throws if one of the first {@code taken} members was lost meanwhile: the set cannot hold
     * then, and waiting on for later members would keep the others from everyone for nothing.
     */
    private void requireNoneLost(int taken) {
        for (int i = 0; i < taken; i++) {
            AdvisoryLock member = members.get(i);
            if (!member.isHeld()) {
                throw new LockLostException(member.name(), "Lock '" + member.name() + "' of the set " + names()
                        + " was lost while the set was being acquired; nothing of the set is held", null);
            }
        }
    }

    /**
     * Releases the first {@code taken} members, last first. Failures are added to {@code primary}
     * as suppressed when there is one, else returned joined.
     */
    private @Nullable RuntimeException giveBack(int taken, @Nullable Throwable primary) {
        RuntimeException failure = null;
        for (int i = taken - 1; i >= 0; i--) {
            try {
                members.get(i).release();
            } catch (RuntimeException e) {
                if (primary != null) {
                    primary.addSuppressed(e);
                } else {
                    failure = joined(failure, e);
                }
            }
        }
        return failure;
    }

    private static RuntimeException joined(@Nullable RuntimeException first, RuntimeException next) {
        if (first == null) {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }

    /** What is left of the set's timeout for the next member. */
    @Override
    public String toString() {
        return "AdvisoryLockSet[" + names() + ", " + mode.label() + (isHeld() ? ", held" : ", not held") + "]";
    }
}
