package dev.pals;

import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The ownership state of one handle, kept apart from the {@link AdvisoryLock} object so that the
 * registry's tables never keep a handle reachable: an abandoned handle can then be found by the
 * {@link java.lang.ref.Cleaner} and its lock released. Mutable fields change under the engine's
 * lock for the key: its {@link KeyState#mutex} on PostgreSQL, the table's lock in memory.
 */
final class Holder {

    final String name;
    final LockKey key;
    final LockMode mode;
    final LockInfo info;
    /**
     * What the observers' critical section is named after: {@link #info}, or the semaphore for one
     * of its permits. {@code null} for a lock no caller asked for by name (a semaphore's count and
     * queue locks): then the held count, the activity snapshot and the loss listeners leave it out.
     */
    final @Nullable LockInfo reportedAs;
    /** Whether the observers are told of its acquisitions; a semaphore tells them of its own instead. */
    final boolean observesAcquisition;
    final WeakReference<AdvisoryLock> handle;
    /** While held: what releases the lock if the handle becomes unreachable. Written under the engine's lock for the key. */
    private Cleaner.@Nullable Cleanable abandonment;

    /** Re-entrant hold count; 0 when not held. Written under the engine's lock for the key. */
    volatile int count;
    /** A loss not yet reported by {@code release()}. Written under the engine's lock for the key. */
    @Nullable LockLostException lost;
    /** The registry closed while this was held. Written under the engine's lock for the key. */
    boolean releasedByClose;
    /**
     * The observed critical section of the latest first hold; replaced under the engine's key lock
     * at each first hold, read by the acquirer without it to start the section.
     */
    volatile @Nullable OpenSection section;
    /** The thread that took the first hold, and when. Written under the engine's lock for the key. */
    String owner = "";
    Instant since = Instant.EPOCH;
    /** First holds so far, so that a fencing token is known to belong to the hold now. Written under the engine's lock for the key. */
    long holds;
    /** The value of {@link #holds} when {@link #token} was issued, -1 for none. Written under the engine's lock for the key. */
    long tokenHold = -1;
    /** The fencing token of hold number {@link #tokenHold}. Written under the engine's lock for the key. */
    long token;

    Holder(LockInfo info, @Nullable LockInfo reportedAs, boolean observesAcquisition, AdvisoryLock handle) {
        this.name = info.name();
        this.key = info.key();
        this.mode = info.mode();
        this.info = info;
        this.reportedAs = reportedAs;
        this.observesAcquisition = observesAcquisition;
        this.handle = new WeakReference<>(handle);
    }

    /**
     * Watches the handle for abandonment, at a first hold; called under the engine's key lock, on the
     * acquiring thread, whose call on the handle keeps it reachable (so it is never found cleared).
     */
    void watch(Engine engine) {
        AdvisoryLock watched = handle.get();
        if (watched != null) {
            abandonment = AdvisoryLock.watch(watched, engine, this);
        }
    }

    /**
     * Stops watching, once nothing is held; called under the engine's key lock after {@link #count}
     * fell to 0, so that the cleaning action, which runs now, finds nothing to release.
     */
    void unwatch() {
        Cleaner.Cleanable watching = abandonment;
        if (watching != null) {
            abandonment = null;
            watching.clean();
        }
    }

    /**
     * What {@code release()} answers for a holder that does not hold: a loss or a close it has not
     * reported yet is thrown, once; otherwise {@code false}. Called under the engine's key lock.
     */
    boolean notHeld() {
        LockLostException pending = lost;
        if (pending != null) {
            lost = null;
            throw pending;
        }
        if (releasedByClose) {
            releasedByClose = false;
            throw new IllegalStateException("Lock '" + name + "' was already released because its LockRegistry "
                    + "was closed while it was held; release locks before closing the registry");
        }
        return false;
    }

    /** Whether the hold now already has its fencing token; called under the engine's key lock. */
    boolean hasToken() {
        return tokenHold == holds;
    }

    /** Keeps {@code token} as the fencing token of the hold now; called under the engine's key lock. */
    long keepToken(long token) {
        this.token = token;
        this.tokenHold = holds;
        return token;
    }

    /**
     * What {@code fencingToken()} throws for a holder that does not hold: a loss it has not
     * reported yet (left for {@code release()} to report), or that it is not held. Called under
     * the engine's key lock.
     */
    RuntimeException noToken() {
        LockLostException pending = lost;
        if (pending != null) {
            return new LockLostException(name, "Lock '" + name + "' was lost, so it has no fencing token: another "
                    + "holder may have it now, and its token is greater than any this handle had", pending);
        }
        return new IllegalStateException("Lock '" + name + "' is not held by this handle, so it has no fencing "
                + "token; a token belongs to one hold, from its acquisition to its last release");
    }

    /** Whether {@code holder} is among {@code holders}, by identity: two handles may be equal in nothing else. */
    static boolean in(List<Holder> holders, Holder holder) {
        for (Holder h : holders) {
            if (h == holder) {
                return true;
            }
        }
        return false;
    }
}
