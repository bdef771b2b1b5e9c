package dev.pals.spring.observability;

import dev.pals.LockInfo;
import dev.pals.LockLostException;
import dev.pals.LockMode;
import dev.pals.LockObserver;
import io.micrometer.common.KeyValues;
import io.micrometer.core.instrument.MeterRegistry;
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
 * <p>When only meters would see them, the starter records the meters directly instead
 * ({@link #metersOnly}).
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
    private final @Nullable LockObserver direct;

    /** Observations reported to {@code registry}; none when it is a no-op registry. */
    public LockObservations(ObservationRegistry registry) {
        this(registry, null);
    }

    private LockObservations(ObservationRegistry registry, @Nullable LockObserver direct) {
        this.registry = registry;
        this.direct = direct;
    }

    /**
     * No observations, only their meters: the timers and long task timers the observations would
     * end in under the default conventions and {@link LockMeterObservationHandler}, recorded
     * straight into {@code meters}, at a fraction of an observation's cost per call. For when
     * nothing but meters would see the observations: no tracer, no handler other than meter
     * handlers, no convention, filter or predicate of one's own sees the locks. Calls never block;
     * a group's first call registers its meters under the meter registry's own lock.
     *
     * @param longTaskTimers whether to keep the {@code .active} long task timers
     */
    public static LockObservations metersOnly(MeterRegistry meters, boolean longTaskTimers) {
        return new LockObservations(ObservationRegistry.NOOP, new LockMeterRecorder(meters, longTaskTimers));
    }

    @Override
    public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
        LockObserver recorder = direct;
        if (recorder != null) {
            return recorder.acquisitionStarted(lock, mayWait);
        }
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
        LockObserver recorder = direct;
        if (recorder != null) {
            return recorder.sectionStarted(lock);
        }
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
        return tags(lock).ended(outcome);
    }

    private static ShapeTags tags(LockInfo lock) {
        return tags(Shape.of(lock));
    }

    static ShapeTags tags(Shape shape) {
        return TAGS.computeIfAbsent(shape, Shape::tags);
    }

    /** What the default tags are made of. */
    record Shape(String group, LockMode mode, LockInfo.Scope scope) {

        static Shape of(LockInfo lock) {
            return new Shape(lock.group(), lock.mode(), lock.scope());
        }

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
    record ShapeTags(KeyValues started, Map<Outcome, KeyValues> byOutcome) {

        KeyValues ended(Outcome outcome) {
            return Objects.requireNonNull(byOutcome.get(outcome));
        }
    }
}
