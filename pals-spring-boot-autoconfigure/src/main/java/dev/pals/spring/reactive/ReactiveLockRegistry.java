package dev.pals.spring.reactive;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.LockLostException;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import dev.pals.spring.LockLostEvent;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.reactivestreams.Publisher;
import org.springframework.context.ApplicationListener;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The locks of a {@link LockRegistry} for reactive code: acquisition that never blocks a
 * subscriber's thread, and locks held for a publisher's life.
 *
 * <pre>{@code
 * Mono<Report> report = locks.withLockMono("nightly-report", LockOptions.exclusive(), () -> build());
 * }</pre>
 *
 * <p>Nothing happens until subscription; each subscription takes the lock anew with a handle of
 * its own. Acquisition runs on a registry thread, and what follows the grant runs on Reactor's
 * bounded-elastic scheduler, never on the registry's threads. Releases run on a registry thread too.
 *
 * <p><b>Contention and timeout.</b> Each method waits as the handle's options say
 * ({@link LockOptions#withBlocking}, {@link LockOptions#withTimeout}, else the registry's
 * defaults); a lock not obtained ends the publisher with {@link AcquireFailureException}: reason
 * CONTENDED when it was not to wait, TIMED_OUT when it waited its timeout. The wait happens in the
 * server, which grants the lock the moment it is free.
 *
 * <p><b>Cancel.</b> Cancelling while waiting cancels the wait in the server and leaves nothing
 * held, even when the grant crosses the cancel; cancelling while held releases.
 *
 * <p><b>Loss.</b> Auto-configured, this registry hears of lost locks through {@link LockLostEvent}
 * and ends a publisher whose lock was lost with {@link LockLostException} at once, cancelling its
 * work. A registry that publishes no such events is heard at the release, which then fails with
 * {@code LockLostException}.
 *
 * <p>Two handles exclude each other even in one reactive chain: a {@code withLock} nested in
 * another on the same name waits for the outer one, as handles do.
 */
public final class ReactiveLockRegistry implements ApplicationListener<LockLostEvent> {

    private final LockRegistry registry;
    /** The holds of {@link #withLock}, by handle, to be ended when their lock is lost. */
    private final ConcurrentHashMap<AdvisoryLock, Consumer<LockLostException>> holds = new ConcurrentHashMap<>();

    /** Reactive access to {@code registry}'s locks. */
    public ReactiveLockRegistry(LockRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
    }

    /**
     * Acquires the lock {@code name} with {@code options}, emitting its handle once held; the
     * caller then owns the hold and releases it, with {@link #release} or
     * {@link AdvisoryLock#release()}. Prefer {@link #withLock}, which releases on every ending.
     *
     * <p>Contention and timeout end it with {@link AcquireFailureException}; a cancel while
     * waiting cancels the server wait and leaves nothing held.
     *
     * @throws IllegalArgumentException at once, if the name is blank or too long
     */
    public Mono<AdvisoryLock> acquire(String name, LockOptions options) {
        Objects.requireNonNull(options, "options");
        registry.lock(name, options); // checks the name now, not at subscription
        return Mono.defer(() -> new ReactiveHold(registry.lock(name, options), null).acquisition());
    }

    /**
     * Releases one hold of {@code lock} on a registry thread; the subscriber's thread never waits
     * for the server.
     *
     * @return completes once released, or with {@link LockLostException} if the lock was lost
     *     while held, or {@link IllegalStateException} if the handle did not hold it
     */
    public Mono<Void> release(AdvisoryLock lock) {
        Objects.requireNonNull(lock, "lock");
        return Mono.defer(() -> ReactiveHold.release(lock));
    }

    /**
     * Takes the lock {@code name} on subscription, then subscribes to the publisher {@code work}
     * supplies and holds the lock until it completes, fails or is cancelled; then releases,
     * exactly once. Elements pass on while the lock is held; the completion passes on after the
     * release, so that a subscriber that sees it knows the lock is free.
     *
     * <p><b>Contention and timeout</b>: ends with {@link AcquireFailureException}, and
     * {@code work} is not called. <b>Cancel</b>: while waiting, cancels the server wait; while
     * held, cancels the work and releases. <b>Loss</b>: cancels the work and ends with
     * {@link LockLostException}. A failure of the work passes on after the release; a loss found
     * by that release is passed on instead, with the work's failure suppressed.
     *
     * @throws IllegalArgumentException at once, if the name is blank or too long
     */
    public <T> Flux<T> withLock(String name, LockOptions options, Supplier<? extends Publisher<T>> work) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(work, "work");
        registry.lock(name, options); // checks the name now, not at subscription
        return Flux.defer(() -> new ReactiveHold(registry.lock(name, options), this).held(work));
    }

    /**
     * {@link #withLock} for a {@link Mono}: the value passes on after the release.
     *
     * @throws IllegalArgumentException at once, if the name is blank or too long
     */
    public <T> Mono<T> withLockMono(String name, LockOptions options, Supplier<? extends Mono<T>> work) {
        return withLock(name, options, work).singleOrEmpty();
    }

    /**
     * Ends the publisher of {@link #withLock} whose lock the event reports lost, with the event's
     * {@link LockLostException}. Called by the application context for this bean; events of
     * other handles are ignored.
     */
    @Override
    public void onApplicationEvent(LockLostEvent event) {
        Consumer<LockLostException> hold = holds.get(event.getLock());
        if (hold != null) {
            hold.accept(event.getCause());
        }
    }

    void watch(AdvisoryLock lock, Consumer<LockLostException> onLoss) {
        holds.put(lock, onLoss);
    }

    void unwatch(AdvisoryLock lock) {
        holds.remove(lock);
    }
}
