package dev.pals.spring.aop;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisorySemaphore;
import dev.pals.LockMode;
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
        AdvisorySemaphore semaphore;
        boolean acquired;
        try {
            semaphore = interceptor.registry().semaphore(name, locked.permits());
            acquired = locked.blocking() ? semaphore.tryAcquire(locked.timeout()) : semaphore.tryAcquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AcquireFailureException(name, LockMode.EXCLUSIVE, AcquireFailureException.Reason.INTERRUPTED,
                    "a permit for " + locked.description(), e);
        } catch (IllegalStateException refused) {
            return interceptor.skippedAtShutdown(locked, name, refused);
        }
        if (!acquired) {
            return interceptor.contended(invocation, locked, name);
        }
        held.add(name);
        interceptor.entered(semaphore, semaphore::isHeld);
        Object result;
        try {
            result = invocation.proceed();
        } catch (Throwable failure) {
            interceptor.left(semaphore);
            held.remove(name);
            throw AdvisoryLockInterceptor.releasedAfterFailure(semaphore::release, failure);
        }
        interceptor.left(semaphore);
        held.remove(name);
        semaphore.release();
        return result;
    }
}
