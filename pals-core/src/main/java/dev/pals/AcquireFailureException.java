package dev.pals;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * A lock was not obtained. Thrown by the forms that must return with the lock held
 * ({@link AdvisoryLock#hold()}, {@link LockRegistry#executeLocked}, {@link TransactionLock#hold}
 * and, in the Spring layer, locked methods), by {@link AdvisoryLock#tryAcquire()} when
 * interrupted, and by a transaction lock's wait that PostgreSQL chose to break a deadlock. When it
 * is thrown, nothing is held on the caller's behalf.
 */
public class AcquireFailureException extends LockException {

    private static final long serialVersionUID = 1L;

    /** Why the lock was not obtained. */
    public enum Reason {
        /** Another holder had it and the caller asked not to wait. */
        CONTENDED("it is held by another holder and the caller did not wait"),
        /** Another holder kept it for the whole wait. */
        TIMED_OUT("the wait timed out"),
        /** The waiting thread was interrupted; its interrupt status is set again. */
        INTERRUPTED("the waiting thread was interrupted"),
        /** The asynchronous acquisition was cancelled. */
        CANCELLED("the acquisition was cancelled"),
        /**
         * PostgreSQL found a deadlock (SQLSTATE 40P01) between waiting transactions and chose this
         * wait to break it. Waits for session locks never end this way: their connections hold
         * nothing while they wait, so PostgreSQL sees no cycle; bound those waits with timeouts.
         */
        DEADLOCK("PostgreSQL detected a deadlock (40P01) and aborted this wait; take locks in one fixed order");

        private final String explanation;

        Reason(String explanation) {
            this.explanation = explanation;
        }

        String explanation() {
            return explanation;
        }
    }

    private final String lockName;
    private final LockMode mode;
    private final Reason reason;

    /** A failure to take {@code lockName} in {@code mode} for {@code reason}. */
    public AcquireFailureException(String lockName, LockMode mode, Reason reason, @Nullable String detail,
            @Nullable Throwable cause) {
        super("Could not acquire " + mode.label() + " lock '" + lockName + "': " + reason.explanation()
                + (detail == null ? "" : " (" + detail + ")"), cause);
        this.lockName = lockName;
        this.mode = mode;
        this.reason = reason;
    }

    private AcquireFailureException(String message, String lockName, LockMode mode, Reason reason,
            @Nullable Throwable cause) {
        super(message, cause);
        this.lockName = lockName;
        this.mode = mode;
        this.reason = reason;
    }

    /** A failure to take a permit of the semaphore {@code name}, in words that name the semaphore and its count. */
    static AcquireFailureException forPermit(String name, int permits, Reason reason, @Nullable String detail,
            @Nullable Throwable cause) {
        String semaphore = "semaphore '" + name + "' (" + permits + (permits == 1 ? " permit)" : " permits)");
        String what = switch (reason) {
            case CONTENDED -> "no permit of " + semaphore + " was free, and the caller did not wait";
            case TIMED_OUT -> "no permit of " + semaphore + " was free before the wait timed out";
            default -> "no permit of " + semaphore + " was taken: " + reason.explanation();
        };
        return new AcquireFailureException("Could not acquire a permit: " + what
                + (detail == null ? "" : " (" + detail + ")"), name, LockMode.EXCLUSIVE, reason, cause);
    }

    /** A wait for a lock, for {@link #requireAcquired}. */
    @FunctionalInterface
    interface Wait {
        boolean acquire() throws InterruptedException;
    }

    /**
     * Runs {@code wait}, and throws if it did not get the lock: CONTENDED when it was not to wait,
     * TIMED_OUT when it waited {@code timeout}, INTERRUPTED (the interrupt status set again) when
     * interrupted.
     */
    static void requireAcquired(String lockName, LockMode mode, Duration timeout, Wait wait) {
        boolean acquired;
        try {
            acquired = wait.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AcquireFailureException(lockName, mode, Reason.INTERRUPTED, null, e);
        }
        if (!acquired) {
            throw timeout.isZero()
                    ? new AcquireFailureException(lockName, mode, Reason.CONTENDED, null, null)
                    : new AcquireFailureException(lockName, mode, Reason.TIMED_OUT,
                            "waited " + Timeouts.describe(timeout), null);
        }
    }

    /** The name of the lock, or its key for a lock taken by key. */
    public String lockName() {
        return lockName;
    }

    /** The mode that was requested. */
    public LockMode mode() {
        return mode;
    }

    /** Why the lock was not obtained. */
    public Reason reason() {
        return reason;
    }
}
