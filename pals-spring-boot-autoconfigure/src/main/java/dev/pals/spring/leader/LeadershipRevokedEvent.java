package dev.pals.spring.leader;

import dev.pals.LockLostException;
import org.jspecify.annotations.Nullable;
import org.springframework.context.ApplicationEvent;

/**
 * Published when this instance stops being the leader, on the election's thread: its lock was
 * lost (another instance may lead already), or the application is stopping.
 */
public class LeadershipRevokedEvent extends ApplicationEvent {

    private static final long serialVersionUID = 1L;

    private final @Nullable LockLostException lost;

    /**
     * Leadership of {@code source} revoked.
     *
     * @param lost why the lock was lost, or {@code null} when the application stopped leading
     */
    public LeadershipRevokedEvent(Leadership source, @Nullable LockLostException lost) {
        super(source);
        this.lost = lost;
    }

    /** The election. */
    public Leadership getLeadership() {
        return (Leadership) getSource();
    }

    /** Why the lock was lost, or {@code null} when the application stopped leading. */
    public @Nullable LockLostException getLost() {
        return lost;
    }
}
