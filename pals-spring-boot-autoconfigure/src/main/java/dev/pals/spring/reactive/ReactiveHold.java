package dev.pals.spring.reactive;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.LockLostException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

/** One subscription's hold of one handle, for {@link ReactiveLockRegistry}: released exactly once. */
final class ReactiveHold {

    private static final Log LOG = LogFactory.getLog(ReactiveHold.class);

    private static final int WAITING = 0;
    private static final int HOLDING = 1;
    private static final int DONE = 2;

    private final AdvisoryLock lock;
    /** Where a loss is reported while held; {@code null} when the caller takes over the hold. */
    private final @Nullable ReactiveLockRegistry watcher;
    /** WAITING, then HOLDING once granted, then DONE once released or handed over or given up. */
    private final AtomicInteger state = new AtomicInteger(WAITING);
    private final Sinks.One<Boolean> loss = Sinks.one();
    private volatile @Nullable LockLostException lost;

    ReactiveHold(AdvisoryLock lock, @Nullable ReactiveLockRegistry watcher) {
        this.lock = lock;
        this.watcher = watcher;
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
    Mono<AdvisoryLock> acquisition() {
        Duration timeout = lock.isBlocking() ? lock.timeout() : Duration.ZERO;
        return Mono.<AdvisoryLock>create(sink -> {
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
                        watcher.watch(lock, this::lost);
                    }
                    if (state.compareAndSet(WAITING, HOLDING)) {
                        // off the registry's thread, which acquisitions need; a cancel meanwhile still releases
                        // handed over (no watcher) it is the caller's to release from now on
                        Schedulers.boundedElastic().schedule(() -> {
                            if (watcher != null || state.compareAndSet(HOLDING, DONE)) {
                                sink.success(lock);
                            }
                        });
                    } else {
                        unwatch();
                        releaseQuietly();
                    }
                }
            });
        }).doOnDiscard(AdvisoryLock.class, handedOver -> releaseQuietly()); // a hand-over that crossed a cancel
    }

    /** Holds the lock for the life of the publisher {@code work} supplies. */
    <T> Flux<T> held(Supplier<? extends Publisher<T>> work) {
        return acquisition()
                .flatMapMany(held -> Flux.<T>from(work.get()).takeUntilOther(loss.asMono())
                        .concatWith(Mono.defer(() -> {
                            LockLostException cause = lost;
                            return cause == null ? Mono.empty() : Mono.error(cause);
                        })))
                .concatWith(Mono.defer(() -> finish() ? release(lock).then(Mono.<T>empty()) : Mono.<T>empty()))
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
            watcher.unwatch(lock);
        }
    }

    /** A lost lock is the news the subscriber must not miss, with the work's failure attached. */
    private <T> Mono<T> releaseOnError(Throwable failure) {
        if (!finish()) {
            return Mono.error(failure);
        }
        return release(lock).then(Mono.<T>error(failure)).onErrorResume(releaseFailure -> {
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
                LOG.error("Releasing lock '" + lock.name() + "' after its subscriber cancelled failed: "
                        + failure.getMessage(), failure);
            }
        });
    }
}
