package dev.pals.spring.aop;

import dev.pals.LockLostException;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Lets code inside an {@code @AdvisoryLocked} method check that its lock is still held before a
 * step that must not run unprotected, such as writing a result elsewhere than the database, and
 * get the lock's fencing token for such a write.
 *
 * <pre>{@code
 * @AdvisoryLocked("nightly-report")
 * void nightlyReport() {
 *     Report report = build();
 *     AdvisoryLocks.assertHeld();   // throws if the lock was lost meanwhile
 *     mailer.send(report);
 * }
 * }</pre>
 *
 * <p>These read the calling thread's call chain, so they serve blocking methods; a reactive method
 * reads its token with {@code ReactiveLockRegistry.fencingToken()}, from the Reactor Context.
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

    /**
     * The fencing token of the one session lock this thread's call chain holds through
     * {@code @AdvisoryLocked}, for a write to a resource outside PostgreSQL that must refuse a holder
     * that lost its lock (see {@link dev.pals.AdvisoryLock#fencingToken()}; needs
     * {@code pals.fencing-tokens}). The first call in a hold costs one round trip; later ones answer
     * the same token. Never waits for other holders.
     *
     * @throws IllegalStateException if the call chain holds no session lock through the annotation,
     *     or several (name one with {@link #fencingToken(String)}), or fencing tokens are not enabled
     * @throws LockLostException if the lock was lost
     */
    public static long fencingToken() {
        List<CallChain.Entry> session = CallChain.current().values().stream().filter(entry -> entry.lock() != null)
                .toList();
        if (session.size() != 1) {
            throw new IllegalStateException("AdvisoryLocks.fencingToken() was called with " + session.size()
                    + " session locks held through @AdvisoryLocked in this thread's call chain; it needs exactly one"
                    + (session.isEmpty() ? " (a TRANSACTION lock has no token: its writes commit with it)"
                            : ", so name it: fencingToken(name)"));
        }
        return token(session.get(0));
    }

    /**
     * The fencing token of the session lock {@code name} (the resolved name, as the lock shows it)
     * that this thread's call chain holds through {@code @AdvisoryLocked}, as {@link #fencingToken()}.
     *
     * @throws IllegalStateException if the call chain holds no session lock of that name, or fencing
     *     tokens are not enabled
     * @throws LockLostException if the lock was lost
     */
    public static long fencingToken(String name) {
        return CallChain.current().values().stream().filter(entry -> entry.lock() != null)
                .filter(entry -> entry.name().equals(name)).findFirst().map(AdvisoryLocks::token)
                .orElseThrow(() -> new IllegalStateException("AdvisoryLocks.fencingToken(\"" + name + "\") was called "
                        + "outside any @AdvisoryLocked method of this thread's call chain holding session lock '" + name
                        + "'"));
    }

    private static long token(CallChain.Entry entry) {
        entry.assertHeld();
        return Objects.requireNonNull(entry.lock()).fencingToken();
    }
}
