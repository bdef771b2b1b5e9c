package dev.pals.spring.observability;

import dev.pals.LockObserver;
import io.micrometer.common.KeyValues;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationConvention;

/**
 * Names and tags an acquisition's observation: {@value LockObservations#ACQUIRE}, "wait for lock
 * <i>group</i>" or "try lock <i>group</i>" as the span's name, the tags {@value LockObservations#GROUP},
 * {@value LockObservations#MODE}, {@value LockObservations#SCOPE} and, once it ended,
 * {@value LockObservations#OUTCOME}; the lock's name and key as high-cardinality values.
 *
 * <p>To rename or retag, declare a bean of a {@code GlobalObservationConvention<LockAcquireContext>}
 * (Spring Boot applies it), for instance a subclass of this one that overrides a method. The meters
 * follow the convention; the tags must stay low-cardinality.
 */
public class DefaultLockAcquireConvention implements ObservationConvention<LockAcquireContext> {

    @Override
    public String getName() {
        return LockObservations.ACQUIRE;
    }

    @Override
    public String getContextualName(LockAcquireContext context) {
        return (context.mayWait() ? "wait for lock " : "try lock ") + context.getLock().group();
    }

    @Override
    public KeyValues getLowCardinalityKeyValues(LockAcquireContext context) {
        LockObserver.Outcome outcome = context.getOutcome();
        return outcome == null ? LockObservations.lowCardinality(context.getLock())
                : LockObservations.lowCardinality(context.getLock(), outcome);
    }

    @Override
    public KeyValues getHighCardinalityKeyValues(LockAcquireContext context) {
        return context.lockValues();
    }

    @Override
    public boolean supportsContext(Observation.Context context) {
        return context instanceof LockAcquireContext;
    }

    static String outcome(LockObserver.Outcome outcome) {
        return switch (outcome) {
            case ACQUIRED -> "acquired";
            case CONTENDED -> "contended";
            case TIMED_OUT -> "timed_out";
            case FAILED -> "failed";
        };
    }
}
