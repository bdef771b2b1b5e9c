package dev.pals;

import java.lang.System.Logger.Level;
import org.jspecify.annotations.Nullable;

/**
 * An observer whose failures are logged and ignored: the registry calls observers where a
 * thrown exception would leave a key's state half changed.
 */
final class GuardedObserver implements LockObserver {

    private static final System.Logger LOG = System.getLogger(GuardedObserver.class.getName());

    private final LockObserver delegate;

    private GuardedObserver(LockObserver delegate) {
        this.delegate = delegate;
    }

    static LockObserver of(LockObserver observer) {
        return observer == NONE || observer instanceof GuardedObserver ? observer : new GuardedObserver(observer);
    }

    @Override
    public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
        Acquisition acquisition;
        try {
            acquisition = delegate.acquisitionStarted(lock, mayWait);
        } catch (RuntimeException e) {
            failed("acquisitionStarted", lock, e);
            return Acquisition.NONE;
        }
        return (outcome, failure) -> {
            try {
                acquisition.ended(outcome, failure);
            } catch (RuntimeException e) {
                failed("Acquisition.ended", lock, e);
            }
        };
    }

    @Override
    public Section sectionStarted(LockInfo lock) {
        Section section;
        try {
            section = delegate.sectionStarted(lock);
        } catch (RuntimeException e) {
            failed("sectionStarted", lock, e);
            return Section.NONE;
        }
        return (@Nullable LockLostException lost) -> {
            try {
                section.ended(lost);
            } catch (RuntimeException e) {
                failed("Section.ended", lock, e);
            }
        };
    }

    private static void failed(String call, LockInfo lock, RuntimeException e) {
        LOG.log(Level.WARNING, "LockObserver." + call + " failed for lock '" + lock.name() + "'; ignored", e);
    }
}
