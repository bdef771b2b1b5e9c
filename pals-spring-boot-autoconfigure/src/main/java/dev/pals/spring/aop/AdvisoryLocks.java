package dev.pals.spring.aop;

import dev.pals.LockLostException;
import java.util.Map;

/**
 * Lets code inside an {@code @AdvisoryLocked} method check that its lock is still held before a
 * step that must not run unprotected, such as writing a result elsewhere than the database.
 *
 * <pre>{@code
 * @AdvisoryLocked("nightly-report")
 * void nightlyReport() {
 *     Report report = build();
 *     AdvisoryLocks.assertHeld();   // throws if the lock was lost meanwhile
 *     mailer.send(report);
 * }
 * }</pre>
 */
public final class AdvisoryLocks {

    private AdvisoryLocks() {
    }

    /**
     * Checks every lock this thread's call chain holds through {@code @AdvisoryLocked}: a session
     * lock by its handle, without a round trip (it turns unheld within the loss-check interval of
     * a loss); a transaction lock by its transaction still being active.
     *
     * @throws LockLostException if one of them was lost
     * @throws IllegalStateException if the call chain holds no lock through the annotation
     */
    public static void assertHeld() {
        Map<dev.pals.LockKey, CallChain.Entry> held = CallChain.current();
        if (held.isEmpty()) {
            throw new IllegalStateException("AdvisoryLocks.assertHeld() was called outside any @AdvisoryLocked "
                    + "method of this thread's call chain, so there is no lock to check");
        }
        held.values().forEach(CallChain.Entry::assertHeld);
    }
}
