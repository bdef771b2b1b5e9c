package dev.pals.spring.reactive;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.AdvisoryLockSet;
import dev.pals.LockLostException;
import dev.pals.LockMode;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;
import reactor.util.context.Context;

/**
 * One subscription's hold of one handle, or of a lock set, for {@link ReactiveLockRegistry}:
 * released exactly once.
 *
 * @param <H> {@link AdvisoryLock} or {@link AdvisoryLockSet}
 */
final class ReactiveHold<H> {

    private static final Log LOG = LogFactory.getLog(ReactiveHold.class);

    /**
     * The Reactor Context's key for the handles a chain holds, by name, whose fencing token its work
     * may read: written here and by the reactive {@code @AdvisoryLocked} call, which uses the same key.
     */
    static final String HANDLES = "dev.pals.heldHandles";

    private static final int WAITING = 0;
    private static final int HOLDING = 1;
    private static final int DONE = 2;

    private final H handle;
    private final Handle lock;
    /** Where a loss is reported while held; {@code null} when the caller takes over the hold. */
    private final @Nullable ReactiveLockRegistry watcher;
    /** WAITING, then HOLDING once granted, then DONE once released or handed over or given up. */
    private final AtomicInteger state = new AtomicInteger(WAITING);
    private final Sinks.One<Boolean> loss = Sinks.one();
    private volatile @Nullable LockLostException lost;

    private ReactiveHold(H handle, Handle lock, @Nullable ReactiveLockRegistry watcher) {
        this.handle = handle;
        this.lock = lock;
        this.watcher = watcher;
    }

    static ReactiveHold<AdvisoryLock> of(AdvisoryLock lock, @Nullable ReactiveLockRegistry watcher) {
        return new ReactiveHold<>(lock, new OneLock(lock), watcher);
    }

    static ReactiveHold<AdvisoryLockSet> of(AdvisoryLockSet set, ReactiveLockRegistry watcher) {
        return new ReactiveHold<>(set, new LockSet(set), watcher);
    }

    /** Releases on a registry thread; completes as {@link AdvisoryLock#release()} returns or throws. */
    static Mono<Void> release(AdvisoryLock lock) {
        // the release runs whether or not anyone still waits for it
        return Mono.fromFuture(lock.releaseAfter(Duration.ZERO), true).then();
    }

    /**
     * Emits the handle once held, on the bounded-elastic scheduler, or fails with
     * {@link AcquireFailureException}. A cancel before the handle is delivered cancels the server
     * wait, or releases a grant that crossed it.
     */
    @SuppressWarnings("FutureReturnValueIgnored") // the callback answers the sink, which reports every outcome
    Mono<H> acquisition() {
        Duration timeout = lock.isBlocking() ? lock.timeout() : Duration.ZERO;
        return Mono.<H>create(sink -> {
            CompletableFuture<Boolean> acquisition = lock.acquireAsync(timeout);
            sink.onCancel(() -> {
                acquisition.cancel(true);
                if (finish()) {
                    releaseQuietly();
                }
            });
            acquisition.whenComplete((acquired, completion) -> {
                Throwable failure = completion instanceof CompletionException wrapped && wrapped.getCause() != null
                        ? wrapped.getCause() : completion;
                if (failure != null) {
                    sink.error(failure);
                } else if (!acquired) {
                    sink.error(timeout.isZero()
                            ? new AcquireFailureException(lock.name(), lock.mode(),
                                    AcquireFailureException.Reason.CONTENDED, null, null)
                            : new AcquireFailureException(lock.name(), lock.mode(),
                                    AcquireFailureException.Reason.TIMED_OUT, "waited " + timeout, null));
                } else {
                    if (watcher != null) {
                        // watched before it counts as held, so that whoever finishes the hold also unwatches it
                        lock.watch(watcher, this::lost);
                        if (!lock.isHeld()) {
                            // lost between the grant and the watch, so no listener will tell this hold
                            lost(new LockLostException(lock.name(), lock.described() + " was lost as it was granted",
                                    null));
                        }
                    }
                    if (state.compareAndSet(WAITING, HOLDING)) {
                        // off the registry's thread, which acquisitions need; a cancel meanwhile still releases
                        // handed over (no watcher) it is the caller's to release from now on
                        Schedulers.boundedElastic().schedule(() -> {
                            if (watcher != null || state.compareAndSet(HOLDING, DONE)) {
                                sink.success(handle);
                            }
                        });
                    } else {
                        unwatch();
                        releaseQuietly();
                    }
                }
            });
        }).doOnDiscard(handle.getClass(), handedOver -> releaseQuietly()); // a hand-over that crossed a cancel
    }

    /** Holds the lock for the life of the publisher {@code work} supplies. */
    <T> Flux<T> held(Supplier<? extends Publisher<T>> work) {
        return acquisition()
                .flatMapMany(held -> Flux.<T>from(work.get()).contextWrite(lock::withHandle)
                        .takeUntilOther(loss.asMono())
                        .concatWith(Mono.defer(() -> {
                            LockLostException cause = lost;
                            return cause == null ? Mono.empty() : Mono.error(cause);
                        })))
                .concatWith(Mono.defer(() -> finish() ? lock.release().then(Mono.<T>empty()) : Mono.<T>empty()))
                .onErrorResume(this::releaseOnError)
                .doOnCancel(() -> {
                    if (finish()) {
                        releaseQuietly();
                    }
                });
    }

    private void lost(LockLostException cause) {
        lost = cause;
        loss.tryEmitValue(Boolean.TRUE);
    }

    /** Ends the hold; whether it held the lock and must release it. True once at most. */
    private boolean finish() {
        if (state.getAndSet(DONE) != HOLDING) {
            return false;
        }
        unwatch();
        return true;
    }

    private void unwatch() {
        if (watcher != null) {
            lock.unwatch(watcher);
        }
    }

    /** A lost lock is the news the subscriber must not miss, with the work's failure attached. */
    private <T> Mono<T> releaseOnError(Throwable failure) {
        if (!finish()) {
            return Mono.error(failure);
        }
        return lock.release().then(Mono.<T>error(failure)).onErrorResume(releaseFailure -> {
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

    /** Nobody is left to tell of a failed release, so it is logged. */
    @SuppressWarnings("FutureReturnValueIgnored") // a callback that logs a failed release; nothing waits for it
    private void releaseQuietly() {
        lock.releaseAfter(Duration.ZERO).whenComplete((released, failure) -> {
            if (failure != null) {
                LOG.error("Releasing " + lock.described() + " after its subscriber cancelled failed: "
                        + failure.getMessage(), failure);
            }
        });
    }

    /** {@code context} with {@code lock} added to the handles whose fencing token the work may read. */
    static Context withHandle(Context context, AdvisoryLock lock) {
        Map<String, AdvisoryLock> outer = context.hasKey(HANDLES) ? context.get(HANDLES) : Map.of();
        Map<String, AdvisoryLock> handles = new HashMap<>(outer);
        handles.put(lock.name(), lock);
        return context.put(HANDLES, Map.copyOf(handles));
    }

    /** What a hold takes and gives back: one handle, or a set. */
    private sealed interface Handle permits OneLock, LockSet {

        String name();

        String described();

        LockMode mode();

        boolean isBlocking();

        Duration timeout();

        CompletableFuture<Boolean> acquireAsync(Duration timeout);

        CompletableFuture<Boolean> releaseAfter(Duration delay);

        /** Releases on a registry thread; completes as the release returns or throws. */
        default Mono<Void> release() {
            // the release runs whether or not anyone still waits for it
            return Mono.fromFuture(releaseAfter(Duration.ZERO), true).then();
        }

        boolean isHeld();

        void watch(ReactiveLockRegistry watcher, Consumer<LockLostException> onLoss);

        void unwatch(ReactiveLockRegistry watcher);

        /** {@code context} with this hold's handle, for its fencing token; a set's members give none. */
        Context withHandle(Context context);
    }

    private record OneLock(AdvisoryLock lock) implements Handle {

        @Override
        public String name() {
            return lock.name();
        }

        @Override
        public String described() {
            return "lock '" + lock.name() + "'";
        }

        @Override
        public LockMode mode() {
            return lock.mode();
        }

        @Override
        public boolean isBlocking() {
            return lock.isBlocking();
        }

        @Override
        public Duration timeout() {
            return lock.timeout();
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
        public void watch(ReactiveLockRegistry watcher, Consumer<LockLostException> onLoss) {
            watcher.watch(lock, onLoss);
        }

        @Override
        public void unwatch(ReactiveLockRegistry watcher) {
            watcher.unwatch(lock);
        }

        @Override
        public Context withHandle(Context context) {
            return ReactiveHold.withHandle(context, lock);
        }
    }

    private record LockSet(AdvisoryLockSet set) implements Handle {

        @Override
        public String name() {
            return set.names().toString();
        }

        @Override
        public String described() {
            return "locks " + set.names();
        }

        @Override
        public LockMode mode() {
            return set.mode();
        }

        @Override
        public boolean isBlocking() {
            return set.isBlocking();
        }

        @Override
        public Duration timeout() {
            return set.timeout();
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
        public void watch(ReactiveLockRegistry watcher, Consumer<LockLostException> onLoss) {
            watcher.watch(set, onLoss);
        }

        @Override
        public void unwatch(ReactiveLockRegistry watcher) {
            watcher.unwatch(set);
        }

        @Override
        public Context withHandle(Context context) {
            return context;
        }
    }
}
