package dev.pals.spring;

import dev.pals.LockMode;
import dev.pals.spring.aop.AdvisoryLockedReflectiveProcessor;
import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.aot.hint.annotation.Reflective;
import org.springframework.core.annotation.AliasFor;

/**
 * Runs the method holding a PostgreSQL advisory lock, so that one caller at a time in the whole
 * cluster (or many at a time, in {@link LockMode#SHARED} mode) runs it.
 *
 * <pre>{@code
 * @AdvisoryLocked(name = "nightly-report", blocking = false, onContention = OnContention.SKIP)
 * @Scheduled(cron = "0 0 2 * * *")
 * void nightlyReport() { ... }
 *
 * @AdvisoryLocked(name = "'account:' + #id", timeout = "5s")
 * void credit(long id, BigDecimal amount) { ... }
 * }</pre>
 *
 * <p><b>Contention.</b> A blocking method waits in the server, at most {@link #timeout()}; a
 * non-blocking one does not wait. When the lock is not obtained the method does not run and,
 * by default, {@link dev.pals.AcquireFailureException} is thrown (see {@link #onContention()}).
 *
 * <p><b>Interrupt.</b> An interrupted wait cancels the server wait and throws
 * {@code AcquireFailureException} with reason {@code INTERRUPTED}; the interrupt status is kept.
 *
 * <p><b>Nesting.</b> A call in the same thread's call chain to a method locked on the same name
 * runs straight through instead of waiting for itself. Calls from within the same object
 * (self-invocation) do not go through the Spring proxy and are not locked.
 *
 * <p><b>Async.</b> A method returning a {@code CompletionStage} holds the lock until the
 * returned stage completes, normally, exceptionally or by cancellation.
 *
 * <p><b>Reactive.</b> A method returning a type Spring's {@code ReactiveAdapterRegistry} adapts
 * ({@code Mono}, {@code Flux}, RxJava, Kotlin {@code Flow}, ...), or a Kotlin {@code suspend}
 * function, needs Reactor and returns a publisher that locks each subscription: the lock is taken
 * when subscribed, waiting in the server without blocking the subscriber's thread; the method is
 * called once it is held, on Reactor's bounded-elastic scheduler, and the lock is held until its
 * publisher completes, fails or is cancelled, then released before the completion (or a single
 * value) passes on. Contention ends it with {@link dev.pals.AcquireFailureException}, or empty
 * with {@code SKIP}; a cancel while waiting cancels the server wait. A loss while held cancels the
 * work and ends it with {@link dev.pals.LockLostException}. A nested locked call on the same name
 * passes through when it is subscribed within the outer call's publisher (the Reactor
 * {@code Context} carries the held locks, which {@code AdvisoryLocks.assertHeld()} does not see).
 * Only for {@link LockScope#SESSION}.
 *
 * <p><b>Native images.</b> Ahead-of-time processing registers for reflection what a locked method
 * needs: the method, and the types of the parameters its name expression reads.
 *
 * <p>On a class, applies to each of its public instance methods but {@code equals},
 * {@code hashCode} and {@code toString}. Usable as a meta-annotation. Every
 * attribute is checked at start-up, which fails with the method named if one is wrong.
 */
@Target({ElementType.METHOD, ElementType.TYPE, ElementType.ANNOTATION_TYPE})
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Reflective(AdvisoryLockedReflectiveProcessor.class)
public @interface AdvisoryLocked {

    /** Alias for {@link #name()}. */
    @AliasFor("name")
    String value() default "";

    /**
     * The lock's name within the application's namespace: a constant such as
     * {@code "nightly-report"}, or, when it contains {@code #}, a SpEL expression over the
     * method's parameters such as {@code "'account:' + #id"}, {@code "#order.customerId"},
     * {@code "#p0"} or {@code "#root.methodName"}. Expressions may read parameters and call their
     * methods; type references, constructors and bean references are refused at start-up.
     * Parameter names need the {@code -parameters} compiler flag (Spring Boot's build plugins set
     * it); {@code #p0} always works.
     */
    @AliasFor("value")
    String name() default "";

    /**
     * Several locks for one call, instead of {@link #name()}: each a constant or a template as
     * {@code name} is, such as {@code {"'account:' + #from", "'account:' + #to"}}. The call runs
     * holding all of them, taken as one {@link dev.pals.AdvisoryLockSet}: in ascending key order
     * (the same on every instance, so two calls never deadlock), within one {@link #timeout()} for
     * the whole set, and when one is not obtained the method does not run and none stays held.
     * Names that resolve to the same lock count once. A nested call passes through when the outer
     * calls hold all of its names, and is refused when they hold only some (taking the rest then
     * would break the order). With {@link LockScope#TRANSACTION} the names are taken as one
     * {@link dev.pals.TransactionLockSet} in the call's transaction, in the same order, and held
     * until it ends; a set not obtained is rolled back to a savepoint, so the transaction holds
     * none of them and goes on. On a reactive method or a suspend function the set is taken on a
     * registry thread and held for the publisher's life, the loss of any member ending it with
     * {@link dev.pals.LockLostException}; there only {@link LockScope#SESSION}. Not with
     * {@link #holdAtLeast()}. With {@code pals.interrupt-on-loss}, the loss of any member of a
     * blocking session set interrupts the call, as the loss of a lock does.
     */
    String[] names() default {};

    /** Exclusive (one caller at a time) or shared (many, excluding exclusive callers). */
    LockMode mode() default LockMode.EXCLUSIVE;

    /** Whether the call waits for the lock, at most {@link #timeout()}, or only tries once. */
    boolean blocking() default true;

    /**
     * How long a blocking call waits: a duration such as {@code "500ms"}, {@code "5s"} or
     * {@code "PT1M"}, or {@code "forever"}. Empty (the default) takes {@code pals.acquire-timeout}.
     * Must be empty when {@code blocking = false}.
     */
    String timeout() default "";

    /** Where the lock lives: the lock pool's session (default) or the caller's transaction. */
    LockScope scope() default LockScope.SESSION;

    /** What the call does when the lock is not obtained: throw (default) or skip. */
    OnContention onContention() default OnContention.THROW;

    /**
     * The least time the lock is held, from its acquisition: a call that returns sooner keeps the
     * lock for the rest, released on a registry thread without delaying the caller. This is
     * ShedLock's {@code lockAtLeastFor}: a fast scheduled job does not run again on a node whose
     * clock or schedule is a little late. A duration such as {@code "30s"} or {@code "PT1M"};
     * empty (the default) releases as the call ends. Only for {@link LockScope#SESSION}: a
     * transaction lock ends with its transaction.
     */
    String holdAtLeast() default "";

    /**
     * How many callers may run the method at once across the cluster: 0 (the default) takes a
     * lock as {@link #mode()} says; N &gt; 0 takes one permit of the semaphore {@link #name()} of N
     * permits ({@link dev.pals.AdvisorySemaphore}), the cluster-wide counterpart of Spring's
     * JVM-local {@code @ConcurrencyLimit}. Every instance must give the name the same N, or calls
     * are refused with {@link IllegalStateException}. {@link #blocking()}, {@link #timeout()} and
     * {@link #onContention()} apply to the permit as to a lock; a nested call on the same name in
     * the call chain passes through on the outer call's permit. Only for an exclusive
     * {@link LockScope#SESSION} lock on a method that returns a plain value (not a
     * {@code CompletionStage} nor a reactive type), without {@link #holdAtLeast()}: others are
     * refused at start-up.
     */
    int permits() default 0;

    /**
     * The group this lock reports under in metrics and traces. Empty (the default) takes the
     * name as written, template included: {@code "'account:' + #id"} reports as that text, never
     * as {@code account:42}, so metric tags stay few.
     */
    String group() default "";
}
