package dev.pals;

import org.jspecify.annotations.Nullable;

/**
 * Told when a {@link LeaderElection} makes this instance the leader, and when it stops being one.
 * Called on the election's own thread, one call at a time, granted and revoked alternating; an
 * exception a listener throws is logged and ignored.
 */
public interface LeadershipListener {

    /** This instance now holds the election's lock, so it is the leader. */
    void granted(LeaderElection election);

    /**
     * This instance is no longer the leader.
     *
     * @param lost why the lock was lost (its session ended, so another instance may lead already),
     *     or {@code null} if the election was closed or its leadership yielded
     */
    void revoked(LeaderElection election, @Nullable LockLostException lost);
}
