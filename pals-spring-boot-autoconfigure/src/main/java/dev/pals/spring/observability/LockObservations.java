package dev.pals.spring.observability;

import dev.pals.LockInfo;
import dev.pals.LockLostException;
import dev.pals.LockMode;
import dev.pals.LockObserver;
import io.micrometer.common.KeyValues;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Makes each acquisition and each critical section a Micrometer {@link Observation}, so that a
 * trace shows the wait for a lock and the time it was held as spans of their own, and Spring
 * Boot's meter handler turns them into timers:
 *
 * <ul>
 * <li>{@value #ACQUIRE}: every acquisition, tagged with its outcome ({@code acquired},
 * {@code contended}, {@code timed_out}, {@code failed}); {@value #ACQUIRE}{@code .active} counts
 * the acquisitions in progress;</li>
 * <li>{@value #HELD}: every critical section, from a holder's first hold to its last release;
 * {@value #HELD}{@code .active} is the long task timer of the sections in progress. A lost lock
 * ends its section with the {@link LockLostException} as the error.</li>
 * </ul>
 *
 * <p>Low-cardinality tags: {@value #GROUP} (the lock's group, never its resolved name),
 * {@value #MODE}, {@value #SCOPE}, and {@value #OUTCOME} on acquisitions. The lock's name and key
 * are high-cardinality values: on spans, never on meters.
 *
 * <p>Names and tags come from {@link DefaultLockAcquireConvention} and {@link DefaultLockHeldConvention},
 * over a {@link LockAcquireContext} or a {@link LockHeldContext}; a
 * {@code GlobalObservationConvention} registered with the observation registry (a bean, in Spring
 * Boot) replaces them. The meters are made by {@link LockMeterObservationHandler}.
 *
 * <p>A section's observation starts on the acquiring thread, whose current observation becomes its
 * parent, and may stop on another thread; it does not open a scope, since a lock may be released
 * elsewhere than it was taken.
 */
public final class LockObservations implements LockObserver {

    /** The observation of an acquisition. */
    public static final String ACQUIRE = "pals.lock.acquire";
    /** The observation of a critical section. */
    public static final String HELD = "pals.lock.held";
    /** The lock's group. */
    public static final String GROUP = "pals.lock.group";
    /** {@code exclusive} or {@code shared}. */
    public static final String MODE = "pals.lock.mode";
    /** {@code session} or {@code transaction}. */
    public static final String SCOPE = "pals.lock.scope";
    /** How an acquisition ended. */
    public static final String OUTCOME = "pals.lock.outcome";
    /** The lock's name: high cardinality. */
    public static final String NAME = "pals.lock.name";
    /** The lock's PostgreSQL key: high cardinality. */
    public static final String KEY = "pals.lock.key";

    // groups are few (the tags must stay low-cardinality), so this stays small
    private static final ConcurrentHashMap<Shape, ShapeTags> TAGS = new ConcurrentHashMap<>();
    private static final DefaultLockAcquireConvention ACQUIRE_CONVENTION = new DefaultLockAcquireConvention();
    private static final DefaultLockHeldConvention HELD_CONVENTION = new DefaultLockHeldConvention();

    private final ObservationRegistry registry;

    /** Observations reported to {@code registry}; none when it is a no-op registry. */
    public LockObservations(ObservationRegistry registry) {
        this.registry = registry;
    }

    @Override
    public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
        if (registry.isNoop()) {
            return Acquisition.NONE;
        }
        LockAcquireContext context = new LockAcquireContext(lock, mayWait);
        Observation observation = Observation.createNotStarted(null, ACQUIRE_CONVENTION, () -> context, registry)
                .start();
        return (outcome, failure) -> {
            context.setOutcome(outcome);
            if (failure != null) {
                observation.error(failure);
            }
            observation.stop();
        };
    }

    @Override
    public Section sectionStarted(LockInfo lock) {
        if (registry.isNoop()) {
            return Section.NONE;
        }
        Observation observation = Observation.createNotStarted(null, HELD_CONVENTION, () -> new LockHeldContext(lock),
                registry).start();
        return (@Nullable LockLostException lost) -> {
            if (lost != null) {
                observation.error(lost);
            }
            observation.stop();
        };
    }

    /** The default conventions' tags of {@code lock}, made once per group, mode and scope. */
    static KeyValues lowCardinality(LockInfo lock) {
        return tags(lock).started();
    }

    /** As {@link #lowCardinality}, with the acquisition's {@code outcome}. */
    static KeyValues lowCardinality(LockInfo lock, Outcome outcome) {
        return Objects.requireNonNull(tags(lock).ended().get(outcome));
    }

    private static ShapeTags tags(LockInfo lock) {
        return TAGS.computeIfAbsent(new Shape(lock.group(), lock.mode(), lock.scope()), Shape::tags);
    }

    /** What the default tags are made of. */
    private record Shape(String group, LockMode mode, LockInfo.Scope scope) {

        ShapeTags tags() {
            KeyValues started = KeyValues.of(GROUP, group, MODE, mode == LockMode.SHARED ? "shared" : "exclusive",
                    SCOPE, scope == LockInfo.Scope.TRANSACTION ? "transaction" : "session");
            Map<Outcome, KeyValues> ended = new EnumMap<>(Outcome.class);
            for (Outcome outcome : Outcome.values()) {
                ended.put(outcome, started.and(OUTCOME, DefaultLockAcquireConvention.outcome(outcome)));
            }
            return new ShapeTags(started, ended);
        }
    }

    /** The tags of a shape: without an outcome, and with each. */
    private record ShapeTags(KeyValues started, Map<Outcome, KeyValues> ended) {
    }
}
