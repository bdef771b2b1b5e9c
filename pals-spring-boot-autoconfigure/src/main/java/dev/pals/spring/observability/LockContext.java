package dev.pals.spring.observability;

import dev.pals.LockInfo;
import io.micrometer.common.KeyValues;
import io.micrometer.observation.Observation;
import org.jspecify.annotations.Nullable;

/**
 * The context of a lock's observation: an acquisition ({@link LockAcquireContext}) or a critical
 * section ({@link LockHeldContext}). What an {@code ObservationConvention} of one's own reads to
 * name and tag them.
 */
public abstract sealed class LockContext extends Observation.Context permits LockAcquireContext, LockHeldContext {

    private final LockInfo lock;
    private @Nullable KeyValues lockValues;

    LockContext(LockInfo lock) {
        this.lock = lock;
    }

    /** The lock observed. */
    public final LockInfo getLock() {
        return lock;
    }

    /**
     * The default conventions' high-cardinality values, the lock's name and key: made once, since a
     * convention is asked when the observation starts and again when it stops.
     */
    final KeyValues lockValues() {
        KeyValues values = lockValues;
        if (values == null) {
            values = KeyValues.of(LockObservations.NAME, lock.name(), LockObservations.KEY, lock.key().toString());
            lockValues = values;
        }
        return values;
    }
}
