package dev.pals.spring;

import dev.pals.AcquireFailureException;
import java.lang.reflect.Method;
import org.springframework.context.ApplicationEvent;

/**
 * Published when an {@code @AdvisoryLocked} method did not run because its lock was held
 * elsewhere: tried once and found taken, or waited its timeout out. Published on the caller's
 * thread, before the call is skipped ({@link OnContention#SKIP}) or throws
 * {@link AcquireFailureException} ({@link OnContention#THROW}); a listener that throws makes the
 * call throw that instead. The hook for counting or reporting the runs a scheduled job skipped.
 */
public class LockNotAcquiredEvent extends ApplicationEvent {

    private static final long serialVersionUID = 1L;

    private final transient Method method;
    private final String lockName;
    private final AcquireFailureException.Reason reason;
    private final boolean skipped;

    /**
     * A call of {@code method} on {@code source} that did not get lock {@code lockName}.
     *
     * @param reason {@code CONTENDED} or {@code TIMED_OUT}
     * @param skipped whether the call is skipped rather than failed
     */
    public LockNotAcquiredEvent(Object source, Method method, String lockName, AcquireFailureException.Reason reason,
            boolean skipped) {
        super(source);
        this.method = method;
        this.lockName = lockName;
        this.reason = reason;
        this.skipped = skipped;
    }

    /** The annotated method that did not run. */
    public Method getMethod() {
        return method;
    }

    /** The lock's name, resolved for this call. */
    public String getLockName() {
        return lockName;
    }

    /** {@code CONTENDED} if the call did not wait, {@code TIMED_OUT} if it waited in vain. */
    public AcquireFailureException.Reason getReason() {
        return reason;
    }

    /** Whether the call returns without running ({@code SKIP}), rather than throwing. */
    public boolean isSkipped() {
        return skipped;
    }
}
