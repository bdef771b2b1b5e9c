package dev.pals.spring;

import dev.pals.AdvisoryLock;
import dev.pals.LockLostException;
import org.springframework.context.ApplicationEvent;

/**
 * Published when a lock of the auto-configured registry is lost: the PostgreSQL session holding
 * it ended, so another instance may have entered the critical section. Published on a registry
 * thread, within the loss-check interval of the loss (or by the release that found it).
 */
public class LockLostEvent extends ApplicationEvent {

    private static final long serialVersionUID = 1L;

    private final transient AdvisoryLock lock;
    private final LockLostException cause;

    /** A loss of {@code lock}, published by {@code source}. */
    public LockLostEvent(Object source, AdvisoryLock lock, LockLostException cause) {
        super(source);
        this.lock = lock;
        this.cause = cause;
    }

    /** The handle that held the lock. */
    public AdvisoryLock getLock() {
        return lock;
    }

    /** What ended the session, with a message fit for a log. */
    public LockLostException getCause() {
        return cause;
    }
}
