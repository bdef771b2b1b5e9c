package dev.pals;

import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * One hold's critical section as the observers see it. The engine grants a hold under its lock
 * for the key, but observers are user code and must not run under it: the acquirer starts the
 * section once that lock is let go, and whoever lets the hold go (a release, a loss, a close)
 * ends it, also outside the lock. The two may come in either order, from different threads; the
 * observers see one start, then one end, whatever the order.
 *
 * <p>States: {@code NEW} (granted, not started) goes to {@code STARTING} when the acquirer begins
 * the start, then to the observers' {@link LockObserver.Section}; an end that comes before that
 * leaves an {@link Ended} with its cause, which the starter finds and ends the section with. The
 * last state is {@code DONE}.
 */
final class OpenSection {

    private static final Object NEW = new Object();
    private static final Object STARTING = new Object();
    private static final Object DONE = new Object();

    /** An end that came before the start was done. */
    private record Ended(@Nullable LockLostException lost) {
    }

    private final AtomicReference<Object> state = new AtomicReference<>(NEW);

    /**
     * Tells the observers the section started, unless it already was; if it was ended meanwhile,
     * also tells them it ended. Called by the acquirer after the engine's lock is let go.
     */
    void start(LockObserver observer, LockInfo info) {
        Object current = state.get();
        if (current == NEW && state.compareAndSet(NEW, STARTING)) {
            LockObserver.Section section = observer.sectionStarted(info);
            Object previous = state.compareAndExchange(STARTING, section);
            if (previous instanceof Ended early) {
                state.set(DONE);
                section.ended(early.lost());
            }
        } else if (current instanceof Ended early && state.compareAndSet(current, DONE)) {
            observer.sectionStarted(info).ended(early.lost());
        }
    }

    /** Tells the observers the section ended, once; called without the engine's lock. */
    void end(@Nullable LockLostException lost) {
        while (true) {
            Object current = state.get();
            if (current == NEW || current == STARTING) {
                if (state.compareAndSet(current, new Ended(lost))) {
                    return;
                }
            } else if (current instanceof LockObserver.Section section) {
                if (state.compareAndSet(current, DONE)) {
                    section.ended(lost);
                    return;
                }
            } else {
                return;
            }
        }
    }

    /** Ends {@code section}, if there is one. */
    static void endIfAny(@Nullable OpenSection section, @Nullable LockLostException lost) {
        if (section != null) {
            section.end(lost);
        }
    }
}
