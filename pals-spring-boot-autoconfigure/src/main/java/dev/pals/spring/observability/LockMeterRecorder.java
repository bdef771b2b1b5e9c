package dev.pals.spring.observability;

import dev.pals.LockInfo;
import dev.pals.LockLostException;
import dev.pals.LockObserver;
import io.micrometer.common.KeyValues;
import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.LongTaskTimer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The lock observations' meters recorded straight into cached timers, for when nothing but meters
 * would see the observations: the meters {@link LockMeterObservationHandler} makes of them under the
 * default conventions (names, tags, {@code error}, {@code .active} long task timers, every outcome's
 * timer at a group's first acquisition), without an {@code Observation}, its context or its key
 * values per call. A call reads the clock twice and looks its group's meters up once; a new group,
 * mode or scope registers its meters under the meter registry's own lock, once.
 */
final class LockMeterRecorder implements LockObserver {

    private final MeterRegistry meters;
    private final Clock clock;
    private final boolean longTaskTimers;
    // keyed as LockObservations' tags are: groups are few, so these stay small
    private final ConcurrentHashMap<LockObservations.Shape, Acquisitions> acquisitions = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<LockObservations.Shape, Sections> sections = new ConcurrentHashMap<>();

    LockMeterRecorder(MeterRegistry meters, boolean longTaskTimers) {
        this.meters = meters;
        this.clock = meters.config().clock();
        this.longTaskTimers = longTaskTimers;
    }

    @Override
    public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
        LockObservations.Shape shape = LockObservations.Shape.of(lock);
        Acquisitions timers = acquisitions.get(shape);
        if (timers == null) {
            timers = acquisitions.computeIfAbsent(shape, this::acquisitions);
        }
        Acquisitions ended = timers;
        LongTaskTimer.@Nullable Sample active = ended.active == null ? null : ended.active.start();
        long start = clock.monotonicTime();
        return (outcome, failure) -> {
            ended.timer(outcome, failure).record(clock.monotonicTime() - start, TimeUnit.NANOSECONDS);
            if (active != null) {
                active.stop();
            }
        };
    }

    @Override
    public Section sectionStarted(LockInfo lock) {
        LockObservations.Shape shape = LockObservations.Shape.of(lock);
        Sections timers = sections.get(shape);
        if (timers == null) {
            timers = sections.computeIfAbsent(shape, this::sections);
        }
        Sections ended = timers;
        LongTaskTimer.@Nullable Sample active = ended.active == null ? null : ended.active.start();
        long start = clock.monotonicTime();
        return (@Nullable LockLostException lost) -> {
            ended.timer(lost).record(clock.monotonicTime() - start, TimeUnit.NANOSECONDS);
            if (active != null) {
                active.stop();
            }
        };
    }

    private Acquisitions acquisitions(LockObservations.Shape shape) {
        LockObservations.ShapeTags tags = LockObservations.tags(shape);
        Map<Outcome, Timer> ended = new EnumMap<>(Outcome.class);
        for (Outcome outcome : Outcome.values()) {
            ended.put(outcome, timer(LockObservations.ACQUIRE, tags.ended(outcome), LockMeterObservationHandler.NO_ERROR));
        }
        return new Acquisitions(active(LockObservations.ACQUIRE, tags.started()), ended, tags);
    }

    private Sections sections(LockObservations.Shape shape) {
        KeyValues tags = LockObservations.tags(shape).started();
        return new Sections(active(LockObservations.HELD, tags),
                timer(LockObservations.HELD, tags, LockMeterObservationHandler.NO_ERROR), tags);
    }

    private @Nullable LongTaskTimer active(String name, KeyValues tags) {
        return longTaskTimers ? LongTaskTimer.builder(name + ".active").tags(LockMeterObservationHandler.tags(tags))
                .register(meters) : null;
    }

    private Timer timer(String name, KeyValues tags, String error) {
        return Timer.builder(name).tags(LockMeterObservationHandler.tags(tags.and(LockMeterObservationHandler.ERROR, error))).register(meters);
    }

    /** One shape's acquisition meters; the timers of failures, by their error, as they happen. */
    private final class Acquisitions {
        final @Nullable LongTaskTimer active;
        final Map<Outcome, Timer> ended;
        final LockObservations.ShapeTags tags;
        final ConcurrentHashMap<Failure, Timer> failed = new ConcurrentHashMap<>();

        Acquisitions(@Nullable LongTaskTimer active, Map<Outcome, Timer> ended, LockObservations.ShapeTags tags) {
            this.active = active;
            this.ended = ended;
            this.tags = tags;
        }

        Timer timer(Outcome outcome, @Nullable Throwable failure) {
            if (failure == null) {
                return Objects.requireNonNull(ended.get(outcome));
            }
            return failed.computeIfAbsent(new Failure(outcome, failure.getClass().getSimpleName()),
                    f -> LockMeterRecorder.this.timer(LockObservations.ACQUIRE, tags.ended(f.outcome), f.error));
        }
    }

    /** One shape's section meters; the timers of lost locks, by their exception, as they happen. */
    private final class Sections {
        final @Nullable LongTaskTimer active;
        final Timer released;
        final KeyValues tags;
        final ConcurrentHashMap<String, Timer> lost = new ConcurrentHashMap<>();

        Sections(@Nullable LongTaskTimer active, Timer released, KeyValues tags) {
            this.active = active;
            this.released = released;
            this.tags = tags;
        }

        Timer timer(@Nullable LockLostException cause) {
            return cause == null ? released : lost.computeIfAbsent(cause.getClass().getSimpleName(),
                    error -> LockMeterRecorder.this.timer(LockObservations.HELD, tags, error));
        }
    }

    /** A failed acquisition's outcome and error. */
    private record Failure(Outcome outcome, String error) {
    }
}
