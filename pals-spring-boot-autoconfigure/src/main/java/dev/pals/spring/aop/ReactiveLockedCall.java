package dev.pals.spring.aop;

import dev.pals.AdvisoryLock;
import dev.pals.AdvisoryLockSet;
import dev.pals.LockKey;
import dev.pals.LockLostException;
import dev.pals.LockMode;
import dev.pals.LockRegistry;
import dev.pals.spring.LockScope;
import dev.pals.spring.r2dbc.ReactiveTransactionLocks;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.aopalliance.intercept.MethodInvocation;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import org.springframework.aop.ProxyMethodInvocation;
import org.springframework.core.KotlinDetector;
import org.springframework.core.MethodParameter;
import org.springframework.core.ReactiveAdapter;
import org.springframework.core.ReactiveAdapterRegistry;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;
import reactor.util.context.Context;
import reactor.util.context.ContextView;

/**
 * The reactive branch of {@link AdvisoryLockInterceptor}, for a method returning a type Spring's
 * reactive adapters know or a Kotlin suspend function: the call returns a publisher that takes
 * the lock when subscribed, without blocking the subscriber's thread, calls the method once it is
 * held, and holds it until the method's publisher completes, fails or is cancelled. Loaded only
 * for such methods, so only with Reactor on the class path.
 *
 * <p>Each subscription is one locked call, with its own handle: a publisher subscribed twice
 * calls the method twice, each time holding the lock. A nested locked call on the same name,
 * subscribed inside the outer call's publisher, passes through: the held keys travel in the
 * Reactor {@code Context}, as the thread-local call chain of blocking calls cannot.
 *
 * <p>A method locked on several names ({@code names = {...}}) holds them as one
 * {@link AdvisoryLockSet}, taken all or nothing on a registry thread, in the same way: for the
 * publisher's life, skipping or failing as one name does, ended by the loss of any member.
 *
 * <p>The handle of a single-name call travels in the Context too, by name, for
 * {@code ReactiveLockRegistry.fencingToken()}.
 */
final class ReactiveLockedCall {

    private static final Log LOG = LogFactory.getLog(ReactiveLockedCall.class);

    /**
     * The Reactor Context's key for the keys a chain holds through {@code @AdvisoryLocked} of one
     * registry, and their modes: of one registry, as a key another registry holds (another instance
     * of the service, in a test) is not this one's to pass through.
     */
    private record HeldKeys(LockRegistry registry) {
    }

    /** Where the single-name handles go, for {@code ReactiveLockRegistry.fencingToken()}: ReactiveHold.HANDLES. */
    private static final String HANDLES = "dev.pals.heldHandles";

    private static final int WAITING = 0;
    private static final int HOLDING = 1;
    private static final int DONE = 2;

    private final AdvisoryLockInterceptor interceptor;
    private final MethodInvocation invocation;
    private final LockedMethod locked;
    /** The resolved names: one, or the set's as written. */
    private final List<String> names;
    /** The name, or the set's names as a list, for messages and events. */
    private final String name;
    /** WAITING, then HOLDING once granted, then DONE once released or given up: release exactly once. */
    private final AtomicInteger state = new AtomicInteger(WAITING);
    /** Emits once the lock is lost while held. */
    private final Sinks.One<Boolean> loss = Sinks.one();
    private volatile @Nullable LockLostException lost;
    private volatile long acquiredAt;

    private ReactiveLockedCall(AdvisoryLockInterceptor interceptor, MethodInvocation invocation, LockedMethod locked,
            List<String> names) {
        this.interceptor = interceptor;
        this.invocation = invocation;
        this.locked = locked;
        this.names = names;
        this.name = locked.names().isEmpty() ? names.get(0) : names.toString();
    }

    /**
     * What the locked method returns: a publisher of its return type that locks each subscription
     * on {@code names}, the one name of {@code name = ...} or every name of {@code names = {...}}.
     */
    static Object of(AdvisoryLockInterceptor interceptor, MethodInvocation invocation, LockedMethod locked,
            List<String> names) {
        Method method = invocation.getMethod();
        Flux<Object> calls = Flux.deferContextual(
                context -> new ReactiveLockedCall(interceptor, invocation, locked, names).subscribed(context));
        if (KotlinDetector.isSuspendingFunction(method)) {
            // Spring's AOP makes the function's result of this: a Flow from any publisher, else it awaits a Mono
            return isFlow(method) ? calls : calls.singleOrEmpty();
        }
        ReactiveAdapter adapter = adapter(method);
        // a single value is delivered with the completion, so only after the release, never while still held
        return adapter.fromPublisher(adapter.isMultiValue() ? calls : calls.singleOrEmpty());
    }

    private static ReactiveAdapter adapter(Method method) {
        ReactiveAdapter adapter = ReactiveAdapterRegistry.getSharedInstance().getAdapter(method.getReturnType());
        if (adapter == null) {
            // LockedMethods found one at start-up
            throw new IllegalStateException("No reactive adapter for " + method);
        }
        return adapter;
    }

    private static boolean isFlow(Method method) {
        return new MethodParameter(method, -1).getParameterType().getName().equals("kotlinx.coroutines.flow.Flow");
    }

    private Flux<Object> subscribed(ContextView context) {
        if (locked.scope() == LockScope.TRANSACTION) {
            return inTransaction();
        }
        LockRegistry registry;
        Hold lock;
        try {
            registry = interceptor.registry();
            lock = locked.names().isEmpty() ? new OneLock(registry.lock(name, locked.options()), interceptor)
                    : new LockSet(registry.locks(names, locked.options()), interceptor);
        } catch (IllegalStateException refused) {
            return interceptor.skipsAtShutdown(locked, name) ? Flux.empty() : Flux.error(refused);
        }
        HeldKeys heldKeys = new HeldKeys(registry);
        Map<LockKey, LockMode> held = context.hasKey(heldKeys) ? context.get(heldKeys) : Map.of();
        try {
            if (LockSetCall.heldByOuterCalls(lock.keys(), lock.names(), locked, held::get)) {
                return work();
            }
        } catch (IllegalStateException refused) {
            return Flux.error(refused);
        }
        Map<LockKey, LockMode> inner = new HashMap<>(held);
        lock.keys().forEach(key -> inner.put(key, locked.mode()));
        return acquire(lock)
                // off the registry's thread, which acquisitions need: the method and its work run elsewhere
                .publishOn(Schedulers.boundedElastic())
                .flatMapMany(acquired -> acquired ? guarded() : notAcquired())
                .concatWith(Mono.defer(() -> releaseOnComplete(lock)))
                .onErrorResume(failure -> releaseOnError(lock, failure))
                .doOnCancel(() -> releaseOnCancel(lock))
                .contextWrite(downstream -> lock.withHandle(downstream.put(heldKeys, Map.copyOf(inner))));
    }

    /**
     * Takes the lock in the subscriber's reactive transaction, which holds it until it commits or
     * rolls back, then calls the method in it. A nested call on the same name needs no pass-through:
     * PostgreSQL grants a transaction the locks it holds already.
     */
    private Flux<Object> inTransaction() {
        ReactiveTransactionLocks locks = interceptor.reactiveTransactionLocks();
        if (locks == null) {
            return Flux.error(new IllegalStateException("@AdvisoryLocked(scope = TRANSACTION) on "
                    + locked.description() + " takes its lock in the reactive transaction's R2DBC connection, but "
                    + "the context has no ConnectionFactory bean (or more than one, none primary); define one, "
                    + "or use scope = SESSION"));
        }
        return locks.tryLock(name, locked.options(), locked.timeout())
                .flatMapMany(acquired -> acquired ? work() : notAcquired());
    }

    /**
     * Acquires on a registry thread: emits whether the lock is held, or nothing when a call that
     * skips was refused by a registry shutting down. A cancel cancels the wait in the server; a
     * grant that crosses the cancel is released.
     */
    @SuppressWarnings("FutureReturnValueIgnored") // the callback answers the sink, which reports every outcome
    private Mono<Boolean> acquire(Hold lock) {
        return Mono.create(sink -> {
            CompletableFuture<Boolean> acquisition = lock.acquireAsync(locked.timeout());
            sink.onCancel(() -> acquisition.cancel(true));
            acquisition.whenComplete((acquired, completion) -> {
                Throwable failure = completion instanceof CompletionException wrapped && wrapped.getCause() != null
                        ? wrapped.getCause() : completion;
                if (failure != null) {
                    if (failure instanceof IllegalStateException && interceptor.skipsAtShutdown(locked, name)) {
                        sink.success();
                    } else {
                        sink.error(failure);
                    }
                    return;
                }
                if (!acquired) {
                    sink.success(false);
                    return;
                }
                // watched before it counts as held, so that whoever finishes the call also unwatches it
                lock.watch(this::lost);
                if (!lock.isHeld()) {
                    // lost between the grant and the watch, so no listener will tell this call
                    lost(new LockLostException(lock.described(), lock.described() + " was lost as it was granted",
                            null));
                }
                acquiredAt = System.nanoTime();
                if (state.compareAndSet(WAITING, HOLDING)) {
                    sink.success(true);
                } else {
                    lock.unwatch();
                    releaseQuietly(lock, "after its subscriber cancelled");
                }
            });
        });
    }

    private void lost(LockLostException cause) {
        lost = cause;
        loss.tryEmitValue(Boolean.TRUE);
    }

    /** The method's work, ended with {@link LockLostException} if the lock is lost meanwhile. */
    private Flux<Object> guarded() {
        return work().takeUntilOther(loss.asMono()).concatWith(Mono.defer(() -> {
            LockLostException cause = lost;
            return cause == null ? Mono.empty() : Mono.error(cause);
        }));
    }

    /** Calls the method: through a copy of the invocation, so that a second subscription calls it as the first did. */
    private Flux<Object> work() {
        MethodInvocation call = invocation instanceof ProxyMethodInvocation proxied ? proxied.invocableClone()
                : invocation;
        Object result;
        try {
            result = call.proceed();
        } catch (Throwable failure) {
            return Flux.error(failure);
        }
        if (result == null) {
            return Flux.empty();
        }
        // a suspend function's call comes back from Spring's AOP as a publisher already
        Publisher<?> publisher = KotlinDetector.isSuspendingFunction(invocation.getMethod()) ? (Publisher<?>) result
                : adapter(invocation.getMethod()).toPublisher(result);
        return Flux.from(publisher);
    }

    private Flux<Object> notAcquired() {
        var failure = interceptor.notAcquired(invocation, locked, name);
        return failure == null ? Flux.empty() : Flux.error(failure);
    }

    /** Ends the hold; whether this call held the lock and must release it. True once at most. */
    private boolean finish(Hold lock) {
        if (state.getAndSet(DONE) != HOLDING) {
            return false;
        }
        lock.unwatch();
        return true;
    }

    private Mono<Object> releaseOnComplete(Hold lock) {
        return finish(lock) ? release(lock).then(Mono.empty()) : Mono.empty();
    }

    /** A lost lock is the news the subscriber must not miss, with the method's failure attached. */
    private Mono<Object> releaseOnError(Hold lock, Throwable failure) {
        if (!finish(lock)) {
            return Mono.error(failure);
        }
        return release(lock).then(Mono.error(failure)).onErrorResume(releaseFailure -> {
            if (releaseFailure == failure || failure instanceof LockLostException) {
                return Mono.error(failure);
            }
            if (releaseFailure instanceof LockLostException lostLock) {
                lostLock.addSuppressed(failure);
                return Mono.error(lostLock);
            }
            failure.addSuppressed(releaseFailure);
            return Mono.error(failure);
        });
    }

    private void releaseOnCancel(Hold lock) {
        if (finish(lock)) {
            releaseQuietly(lock, "after its subscriber cancelled");
        }
    }

    /**
     * Releases on a registry thread, so that no subscriber's thread waits for the server: now, or,
     * without waiting, at the end of the method's hold-at-least. Completes as the release does, with
     * {@link LockLostException} if the lock was lost.
     */
    private Mono<Boolean> release(Hold lock) {
        Duration rest = locked.holdAtLeast().minusNanos(System.nanoTime() - acquiredAt);
        if (rest.isNegative() || rest.isZero() || !lock.isHeld()) {
            // the release runs whether or not anyone still waits for it
            return Mono.fromFuture(lock.releaseAfter(Duration.ZERO), true);
        }
        logFailure(lock.releaseAfter(rest), lock, "at the end of its holdAtLeast");
        return Mono.just(Boolean.TRUE);
    }

    /** Nobody is left to tell of a failed release, so it is logged. */
    private void releaseQuietly(Hold lock, String when) {
        logFailure(lock.releaseAfter(Duration.ZERO), lock, when);
    }

    @SuppressWarnings("FutureReturnValueIgnored") // a callback that logs a failed release; nothing waits for it
    private void logFailure(CompletableFuture<Boolean> release, Hold lock, String when) {
        release.whenComplete((released, failure) -> {
            if (failure != null) {
                LOG.error("Releasing " + lock.described() + " of " + locked.description() + " " + when
                        + " failed: " + failure.getMessage(), failure);
            }
        });
    }

    /** What a call holds: one handle, or a set of them for {@code names = {...}}. */
    private sealed interface Hold permits OneLock, LockSet {

        /** The names in the order they are taken, one per key. */
        List<String> names();

        List<LockKey> keys();

        String described();

        CompletableFuture<Boolean> acquireAsync(Duration timeout);

        CompletableFuture<Boolean> releaseAfter(Duration delay);

        boolean isHeld();

        /** Ends the call with the loss of any lock it holds, from now until {@link #unwatch()}. */
        void watch(Consumer<LockLostException> onLoss);

        void unwatch();

        /** {@code context} with this hold's handle added where its fencing token is read, if it has one. */
        Context withHandle(Context context);
    }

    private record OneLock(AdvisoryLock lock, AdvisoryLockInterceptor interceptor) implements Hold {

        @Override
        public List<String> names() {
            return List.of(lock.name());
        }

        @Override
        public List<LockKey> keys() {
            return List.of(lock.key());
        }

        @Override
        public String described() {
            return "lock '" + lock.name() + "'";
        }

        @Override
        public CompletableFuture<Boolean> acquireAsync(Duration timeout) {
            return lock.acquireAsync(timeout);
        }

        @Override
        public CompletableFuture<Boolean> releaseAfter(Duration delay) {
            return lock.releaseAfter(delay);
        }

        @Override
        public boolean isHeld() {
            return lock.isHeld();
        }

        @Override
        public void watch(Consumer<LockLostException> onLoss) {
            interceptor.watch(lock, onLoss);
        }

        @Override
        public void unwatch() {
            interceptor.unwatch(lock);
        }

        @Override
        public Context withHandle(Context context) {
            Map<String, AdvisoryLock> outer = context.hasKey(HANDLES) ? context.get(HANDLES) : Map.of();
            Map<String, AdvisoryLock> handles = new HashMap<>(outer);
            handles.put(lock.name(), lock);
            return context.put(HANDLES, Map.copyOf(handles));
        }
    }

    private record LockSet(AdvisoryLockSet set, AdvisoryLockInterceptor interceptor) implements Hold {

        @Override
        public List<String> names() {
            return set.names();
        }

        @Override
        public List<LockKey> keys() {
            return set.keys();
        }

        @Override
        public String described() {
            return "locks " + set.names();
        }

        @Override
        public CompletableFuture<Boolean> acquireAsync(Duration timeout) {
            return set.acquireAsync(timeout);
        }

        @Override
        public CompletableFuture<Boolean> releaseAfter(Duration delay) {
            return set.releaseAfter(delay);
        }

        @Override
        public boolean isHeld() {
            return set.isHeld();
        }

        @Override
        public void watch(Consumer<LockLostException> onLoss) {
            interceptor.watch(set, onLoss);
        }

        @Override
        public void unwatch() {
            interceptor.unwatch(set);
        }

        /** A set's members give no token here, as in a blocking call: their handles are the set's. */
        @Override
        public Context withHandle(Context context) {
            return context;
        }
    }
}
