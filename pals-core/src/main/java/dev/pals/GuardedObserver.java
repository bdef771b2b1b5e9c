package dev.pals;

import java.lang.System.Logger.Level;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The registry's observers as one, each guarded: a failure is logged and ignored, since the
 * registry calls observers where a thrown exception would leave a key's state half changed.
 * Linkage errors count as failures (an observer missing an optional class); only errors of the
 * JVM itself go through.
 */
final class GuardedObserver implements LockObserver {

    private static final System.Logger LOG = System.getLogger(GuardedObserver.class.getName());

    private final LockObserver delegate;

    private GuardedObserver(LockObserver delegate) {
        this.delegate = delegate;
    }

    static LockObserver of(List<LockObserver> observers) {
        List<LockObserver> guarded = observers.stream().filter(observer -> observer != NONE)
                .<LockObserver>map(GuardedObserver::new).toList();
        return switch (guarded.size()) {
            case 0 -> NONE;
            case 1 -> guarded.get(0);
            default -> new Each(guarded);
        };
    }

    /** Several observers, told in the order they were added. */
    private record Each(List<LockObserver> observers) implements LockObserver {

        @Override
        public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
            List<Acquisition> acquisitions = observers.stream().map(o -> o.acquisitionStarted(lock, mayWait)).toList();
            return (outcome, failure) -> acquisitions.forEach(acquisition -> acquisition.ended(outcome, failure));
        }

        @Override
        public Section sectionStarted(LockInfo lock) {
            List<Section> sections = observers.stream().map(o -> o.sectionStarted(lock)).toList();
            return (@Nullable LockLostException lost) -> sections.forEach(section -> section.ended(lost));
        }
    }

    @Override
    public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
        Acquisition acquisition;
        try {
            acquisition = delegate.acquisitionStarted(lock, mayWait);
        } catch (RuntimeException | LinkageError | AssertionError e) {
            failed("acquisitionStarted", lock, e);
            return Acquisition.NONE;
        }
        return (outcome, failure) -> {
            try {
                acquisition.ended(outcome, failure);
            } catch (RuntimeException | LinkageError | AssertionError e) {
                failed("Acquisition.ended", lock, e);
            }
        };
    }

    @Override
    public Section sectionStarted(LockInfo lock) {
        Section section;
        try {
            section = delegate.sectionStarted(lock);
        } catch (RuntimeException | LinkageError | AssertionError e) {
            failed("sectionStarted", lock, e);
            return Section.NONE;
        }
        return (@Nullable LockLostException lost) -> {
            try {
                section.ended(lost);
            } catch (RuntimeException | LinkageError | AssertionError e) {
                failed("Section.ended", lock, e);
            }
        };
    }

    private static void failed(String call, LockInfo lock, Throwable e) {
        LOG.log(Level.WARNING, "LockObserver." + call + " failed for lock '" + lock.name() + "'; ignored", e);
    }
}
