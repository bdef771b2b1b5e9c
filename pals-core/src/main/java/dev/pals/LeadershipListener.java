package dev.pals;

import org.jspecify.annotations.Nullable;

/**
 * Told when a {@link LeaderElection} makes this instance the leader, and when it stops being one.
 * Called on the election's own thread, granted and revoked alternating; an exception or linkage
 * error a listener throws is logged and ignored.
 */
public interface LeadershipListener {

    /** This instance now holds the election's lock, so it is the leader. */
    void granted(LeaderElection election);

    /**
     * This instance is no longer the leader.
     *
     * @param lost why the lock was lost (its session ended, so another instance may lead already),
     *     or {@code null} if the election or its registry was closed
     */
    void revoked(LeaderElection election, @Nullable LockLostException lost);
}
