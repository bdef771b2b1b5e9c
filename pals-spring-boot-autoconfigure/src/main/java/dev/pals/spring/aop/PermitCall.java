package dev.pals.spring.aop;

import dev.pals.AcquireFailureException;
import dev.pals.HeldPermit;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.aopalliance.intercept.MethodInvocation;
import org.jspecify.annotations.Nullable;

/**
 * A call of an {@code @AdvisoryLocked(permits = N)} method: it runs holding one permit of the
 * semaphore of its name, given back as the call ends. A nested call on the same semaphore in this
 * thread's call chain runs on the outer call's permit, so that a semaphore of one permit cannot
 * make a call wait for itself.
 */
final class PermitCall {

    /** The semaphores this thread's call chain holds a permit of, by name. */
    private static final ThreadLocal<Set<String>> HELD = ThreadLocal.withInitial(HashSet::new);

    private PermitCall() {
    }

    static @Nullable Object invoke(AdvisoryLockInterceptor interceptor, MethodInvocation invocation,
            LockedMethod locked, String name) throws Throwable {
        Set<String> held = HELD.get();
        if (held.contains(name)) {
            return invocation.proceed();
        }
        HeldPermit permit;
        try {
            permit = interceptor.registry().semaphore(name, locked.permits())
                    .hold(locked.blocking() ? locked.timeout() : Duration.ZERO);
        } catch (AcquireFailureException notFree) {
            if (notFree.reason() != AcquireFailureException.Reason.CONTENDED
                    && notFree.reason() != AcquireFailureException.Reason.TIMED_OUT) {
                throw notFree;
            }
            // the semaphore's own exception names it and its count; the interceptor publishes and may skip
            if (interceptor.notAcquired(invocation, locked, name) == null) {
                return AdvisoryLockInterceptor.skipped(locked);
            }
            throw notFree;
        } catch (IllegalStateException refused) {
            return interceptor.skippedAtShutdown(locked, name, refused);
        }
        held.add(name);
        interceptor.entered(permit, permit::isHeld);
        Object result;
        try {
            result = invocation.proceed();
        } catch (Throwable failure) {
            interceptor.left(permit);
            held.remove(name);
            throw AdvisoryLockInterceptor.releasedAfterFailure(permit::close, failure);
        }
        interceptor.left(permit);
        held.remove(name);
        permit.close();
        return result;
    }
}
