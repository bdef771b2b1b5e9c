package dev.pals;

import org.jspecify.annotations.Nullable;

/**
 * Told of every acquisition and every critical section of a registry, for metrics and tracing
 * ({@link LockRegistry.Builder#observer}). The Spring Boot starter plugs Micrometer in here.
 *
 * <p>Calls run on the registry's hot path, some while it holds a per-key lock of its own: keep
 * them quick and non-blocking, no I/O, and do not call back into the registry (its
 * {@link LockRegistry#activity()} takes those per-key locks). An exception or linkage error an
 * observer throws is logged and ignored. The default methods observe nothing.
 */
public interface LockObserver {

    /** Observes nothing. */
    LockObserver NONE = new LockObserver() { };

    /**
     * An acquisition begins, on the acquiring thread, before anything is asked of the server.
     *
     * @param mayWait whether it may wait for holders (a blocking acquisition with a timeout)
     * @return told how the acquisition ended, on the same thread
     */
    default Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
        return Acquisition.NONE;
    }

    /**
     * A holder took the lock: a handle's first hold (not a re-entrant one), on the acquiring
     * thread; or a transaction-scoped lock, from whoever tracks its transaction.
     *
     * @return ended once when the hold ends: released, lost, or its registry closed; possibly on
     *     another thread
     */
    default Section sectionStarted(LockInfo lock) {
        return Section.NONE;
    }

    /** How an acquisition ended. */
    enum Outcome {
        /** The lock is held. */
        ACQUIRED,
        /** Not held: held elsewhere, and the acquisition did not wait. */
        CONTENDED,
        /** Not held: still held elsewhere when the wait ran out. */
        TIMED_OUT,
        /** Not held: the acquisition threw (interrupted, server or connection failure, closed registry). */
        FAILED
    }

    /** One acquisition in progress. */
    @FunctionalInterface
    interface Acquisition {

        /** Observes nothing. */
        Acquisition NONE = (outcome, failure) -> { };

        /**
         * The acquisition ended.
         *
         * @param failure what it threw, for {@link Outcome#FAILED}; otherwise {@code null}
         */
        void ended(Outcome outcome, @Nullable Throwable failure);
    }

    /** One holder's critical section, from its first hold to its last release. */
    @FunctionalInterface
    interface Section {

        /** Observes nothing. */
        Section NONE = lost -> { };

        /**
         * The section ended.
         *
         * @param lost why the lock was lost while held, or {@code null} if it was released
         */
        void ended(@Nullable LockLostException lost);
    }
}
