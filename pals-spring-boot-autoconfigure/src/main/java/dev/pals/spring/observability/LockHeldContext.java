package dev.pals.spring.observability;

import dev.pals.LockInfo;

/**
 * The context of a critical section's observation, {@value LockObservations#HELD} by default. A
 * lost lock ends it with the {@link dev.pals.LockLostException} as its error.
 */
public final class LockHeldContext extends LockContext {

    LockHeldContext(LockInfo lock) {
        super(lock);
    }
}
