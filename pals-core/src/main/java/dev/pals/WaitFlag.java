package dev.pals;

import java.util.concurrent.TimeUnit;

/**
 * What a registry's unlocks last read of the server's wait flag ({@link ReleaseWakeups#FLAG}), a
 * shared advisory lock that every registry waiting by notification holds on its marker session
 * before it leaves a marker. While the flag is free no marker can be taken, so an unlock sent
 * within {@link #TRUST_NANOS} of a statement that found it free skips the marker check: an
 * uncontended release costs the plain unlock alone. A waiter whose last try went out within that
 * time of its registry taking the flag might miss such a release, so it tries again once that time
 * (and a margin for the unlock's way to the server) has passed since the flag was taken
 * ({@link ReleaseWakeups#await}).
 *
 * <p>Readings are written without a lock: two statements reading at once may leave either value,
 * and any reading of the flag free, at a moment after the statement was sent, bounds the releases
 * it lets skip the check just the same.
 */
final class WaitFlag {

    /** How long, from sending the statement that read it free, unlocks skip the marker check. */
    static final long TRUST_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    /** What an unlock sent now checks in its own statement. */
    enum Check {
        /** Nothing: the flag was read free less than {@link #TRUST_NANOS} ago. */
        NONE,
        /** The markers of the keys it frees: the flag was read taken less than {@link #TRUST_NANOS} ago. */
        MARKERS,
        /** The markers, and the flag again. */
        MARKERS_AND_FLAG
    }

    /**
     * For the wake-up sessions, whose keys (markers, the flag) no waiter marks: their unlocks never
     * check, so it is never read, and one serves every registry.
     */
    static final WaitFlag UNCHECKED = new WaitFlag(true);

    private final boolean unchecked;
    /** In nanoTime: unlocks sent before then skip the marker check. Stale until a first reading. */
    private volatile long freeUntil = System.nanoTime();
    /** In nanoTime: unlocks sent before then check markers without reading the flag again. */
    private volatile long takenUntil = System.nanoTime();

    /** A registry's reading, shared by the sessions of its pool. */
    WaitFlag() {
        this(false);
    }

    private WaitFlag(boolean unchecked) {
        this.unchecked = unchecked;
    }

    /** What an unlock sent at {@code now} (nanoTime) checks. */
    Check check(long now) {
        if (unchecked || now - freeUntil < 0) {
            return Check.NONE;
        }
        return now - takenUntil < 0 ? Check.MARKERS : Check.MARKERS_AND_FLAG;
    }

    /** The flag was read {@code free} (or taken) by a statement sent at {@code sentAt} (nanoTime). */
    void read(boolean free, long sentAt) {
        if (free) {
            freeUntil = sentAt + TRUST_NANOS;
        } else {
            takenUntil = sentAt + TRUST_NANOS;
        }
    }
}
