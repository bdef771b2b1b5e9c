package dev.pals.spring.aop;

import dev.pals.LockMode;
import dev.pals.LockOptions;
import dev.pals.spring.LockScope;
import dev.pals.spring.OnContention;
import java.time.Duration;
import java.util.List;

/**
 * What {@code @AdvisoryLocked} asks of one method, checked and with the defaults applied.
 *
 * @param description the method, as error messages name it
 * @param name the lock's name or name template
 * @param options the mode and the group, the same for every call
 * @param timeout how long a blocking call waits; {@code Duration.ZERO} when it does not block
 * @param holdAtLeast the least time the lock is held from its acquisition; {@code Duration.ZERO} for none
 * @param permits the semaphore's permits, or 0 for a lock
 * @param names the templates of a method locked on several names, taken as one set; empty for one
 *     name, else {@code name} is the first of them
 */
record LockedMethod(String description, LockNameTemplate name, LockOptions options, boolean blocking,
        Duration timeout, LockScope scope, OnContention onContention, ReturnKind returnKind, Duration holdAtLeast,
        int permits, List<LockNameTemplate> names) {

    LockMode mode() {
        return options.mode();
    }

    /**
     * What the method returns, for skipping and for async holds. REACTIVE: a type Spring's
     * {@code ReactiveAdapterRegistry} adapts (Reactor, RxJava, Kotlin {@code Flow}), or a Kotlin
     * {@code suspend} function, whose call Spring's AOP hands on as a publisher.
     */
    enum ReturnKind {
        VOID, OPTIONAL, COMPLETION_STAGE, REACTIVE, OTHER
    }
}
