package dev.pals.spring.observability;

import dev.pals.LockInfo;
import dev.pals.LockObserver;
import io.micrometer.common.KeyValue;
import io.micrometer.common.KeyValues;
import io.micrometer.core.instrument.LongTaskTimer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.observation.MeterObservationHandler;
import io.micrometer.observation.Observation;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Turns the lock observations into the meters Spring Boot's own meter handler would make of them
 * (a timer tagged with the observation's tags and {@code error}, and a long task timer
 * {@code <name>.active}), at a fraction of its cost per call: each meter is registered once and
 * kept, so a call looks up no {@code Tags} and builds no meter id. The first observation of a
 * lock's tags registers all of that group's timers at once, every outcome of
 * {@value LockObservations#ACQUIRE} among them, so that a dashboard sees every series from its
 * group's first call on (with a convention of one's own, which may retag the outcome, the timers
 * appear as they are first recorded instead).
 *
 * <p>It handles only {@link LockContext}s, and Spring Boot asks it before its default meter handler
 * when it is a bean: every other observation keeps Spring Boot's handler. Calls never block: a new
 * meter is registered under the registry's own lock, once.
 */
public final class LockMeterObservationHandler implements MeterObservationHandler<LockContext> {

    static final String ERROR = "error";
    static final String NO_ERROR = "none";

    private final MeterRegistry meters;
    private final boolean longTaskTimers;
    private final ConcurrentHashMap<MeterKey, Started> started = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<MeterKey, Timer> timers = new ConcurrentHashMap<>();

    /**
     * Meters of the lock observations in {@code meters}.
     *
     * @param longTaskTimers whether to keep the {@code .active} long task timers (Spring Boot's
     *     {@code management.metrics.observations.ignored-meters=long-task-timer} turns them off)
     */
    public LockMeterObservationHandler(MeterRegistry meters, boolean longTaskTimers) {
        this.meters = meters;
        this.longTaskTimers = longTaskTimers;
    }

    @Override
    public void onStart(LockContext context) {
        KeyValues tags = context.getLowCardinalityKeyValues();
        MeterKey key = new MeterKey(name(context), tags, NO_ERROR);
        Started seen = started.get(key);
        if (seen == null) {
            seen = firstSeen(key, context);
        }
        if (seen.active != null) {
            context.put(LongTaskTimer.Sample.class, seen.active.start());
        }
        context.put(Timer.Sample.class, Timer.start(meters));
    }

    @Override
    public void onStop(LockContext context) {
        Throwable error = context.getError();
        MeterKey key = new MeterKey(name(context), context.getLowCardinalityKeyValues(),
                error == null ? NO_ERROR : error.getClass().getSimpleName());
        Timer.Sample timed = context.getRequired(Timer.Sample.class);
        timed.stop(timers.computeIfAbsent(key, this::timer));
        LongTaskTimer.Sample sample = context.get(LongTaskTimer.Sample.class);
        if (sample != null) {
            sample.stop();
        }
    }

    @Override
    public void onEvent(Observation.Event event, LockContext context) {
        // the lock observations signal no events
    }

    @Override
    public boolean supportsContext(Observation.Context context) {
        return context instanceof LockContext;
    }

    /**
     * Registers the meters of a name and tags seen first: the long task timer, and the timers its
     * observations will end in when the default convention names them.
     */
    private Started firstSeen(MeterKey key, LockContext context) {
        for (KeyValues ended : endings(key, context)) {
            timers.computeIfAbsent(new MeterKey(key.name, ended, NO_ERROR), this::timer);
        }
        return started.computeIfAbsent(key, k -> new Started(longTaskTimers
                ? LongTaskTimer.builder(k.name + ".active").tags(tags(k.tags)).register(meters) : null));
    }

    /** The tags the default convention ends an observation with: an acquisition adds its outcome. */
    private static List<KeyValues> endings(MeterKey started, LockContext context) {
        LockInfo lock = context.getLock();
        KeyValues defaults = LockObservations.lowCardinality(lock);
        if (context instanceof LockHeldContext) {
            return started.name.equals(LockObservations.HELD) && started.tags.equals(defaults)
                    ? List.of(defaults) : List.of();
        }
        if (!started.name.equals(LockObservations.ACQUIRE) || !started.tags.equals(defaults)) {
            return List.of();
        }
        List<KeyValues> endings = new ArrayList<>();
        for (LockObserver.Outcome outcome : LockObserver.Outcome.values()) {
            endings.add(LockObservations.lowCardinality(lock, outcome));
        }
        return endings;
    }

    /** A started observation's name: the convention's, else the one it was created with. */
    private static String name(LockContext context) {
        return Objects.requireNonNull(context.getName(), "an observation started without a name");
    }

    private Timer timer(MeterKey key) {
        return Timer.builder(key.name).tags(tags(key.tags.and(ERROR, key.error))).register(meters);
    }

    static Tags tags(KeyValues keyValues) {
        List<Tag> tags = new ArrayList<>();
        for (KeyValue keyValue : keyValues) {
            tags.add(Tag.of(keyValue.getKey(), keyValue.getValue()));
        }
        return Tags.of(tags);
    }

    /** A meter's name and tags, as KeyValues compare them; a timer's error apart, to save merging it in per call. */
    private record MeterKey(String name, KeyValues tags, String error) {
    }

    /** An observation's name and tags seen before, with their long task timer unless those are ignored. */
    private record Started(@Nullable LongTaskTimer active) {
    }
}
