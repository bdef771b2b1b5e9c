package dev.pals.spring.observability;

import dev.pals.LockInfo;
import dev.pals.LockObserver;
import org.jspecify.annotations.Nullable;

/** The context of an acquisition's observation, {@value LockObservations#ACQUIRE} by default. */
public final class LockAcquireContext extends LockContext {

    private final boolean mayWait;
    private volatile LockObserver.@Nullable Outcome outcome;

    LockAcquireContext(LockInfo lock, boolean mayWait) {
        super(lock);
        this.mayWait = mayWait;
    }

    /** Whether the acquisition may wait for holders (a blocking acquisition with a timeout). */
    public boolean mayWait() {
        return mayWait;
    }

    /** How the acquisition ended; {@code null} until it has (when the observation starts). */
    public LockObserver.@Nullable Outcome getOutcome() {
        return outcome;
    }

    void setOutcome(LockObserver.Outcome outcome) {
        this.outcome = outcome;
    }
}
