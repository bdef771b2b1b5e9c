package dev.pals.spring.observability;

import io.micrometer.common.KeyValues;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationConvention;

/**
 * Names and tags a critical section's observation: {@value LockObservations#HELD}, "hold lock
 * <i>group</i>" as the span's name, the tags {@value LockObservations#GROUP},
 * {@value LockObservations#MODE} and {@value LockObservations#SCOPE}; the lock's name and key as
 * high-cardinality values.
 *
 * <p>To rename or retag, declare a bean of a {@code GlobalObservationConvention<LockHeldContext>}
 * (Spring Boot applies it), for instance a subclass of this one that overrides a method. The meters
 * follow the convention; the tags must stay low-cardinality.
 */
public class DefaultLockHeldConvention implements ObservationConvention<LockHeldContext> {

    @Override
    public String getName() {
        return LockObservations.HELD;
    }

    @Override
    public String getContextualName(LockHeldContext context) {
        return "hold lock " + context.getLock().group();
    }

    @Override
    public KeyValues getLowCardinalityKeyValues(LockHeldContext context) {
        return LockObservations.lowCardinality(context.getLock());
    }

    @Override
    public KeyValues getHighCardinalityKeyValues(LockHeldContext context) {
        return context.lockValues();
    }

    @Override
    public boolean supportsContext(Observation.Context context) {
        return context instanceof LockHeldContext;
    }
}
