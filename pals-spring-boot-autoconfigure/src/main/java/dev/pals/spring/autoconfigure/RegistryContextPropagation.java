package dev.pals.spring.autoconfigure;

import dev.pals.LockRegistry;
import org.jspecify.annotations.Nullable;
import org.springframework.core.task.TaskDecorator;
import org.springframework.core.task.support.ContextPropagatingTaskDecorator;
import org.springframework.util.ClassUtils;

/**
 * Carries a caller's context onto the threads of an auto-configured registry when Micrometer's
 * context propagation is on the class path: Spring's {@link ContextPropagatingTaskDecorator}
 * captures on the thread that calls {@code acquireAsync} or {@code releaseAfter} whatever
 * thread-local accessors are registered (the current observation always, the MDC where the
 * service registers one) and restores it on the registry thread, so that the lock's spans have
 * their caller as parent. Without the library nothing is set, and the registry's threads carry
 * nothing.
 */
final class RegistryContextPropagation {

    private static final String CONTEXT_SNAPSHOTS = "io.micrometer.context.ContextSnapshotFactory";

    private RegistryContextPropagation() {
    }

    /** Sets the decorator on {@code builder} if context propagation is visible to {@code classLoader}. */
    static LockRegistry.Builder apply(LockRegistry.Builder builder, @Nullable ClassLoader classLoader) {
        return ClassUtils.isPresent(CONTEXT_SNAPSHOTS, classLoader) ? Present.apply(builder) : builder;
    }

    /** Loaded only once the library is known to be there. */
    private static final class Present {

        static LockRegistry.Builder apply(LockRegistry.Builder builder) {
            TaskDecorator decorator = new ContextPropagatingTaskDecorator();
            return builder.taskDecorator(decorator::decorate);
        }
    }
}
