package dev.pals.spring.reactive;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.AdvisoryLockSet;
import dev.pals.LockLostException;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import dev.pals.spring.LockLostEvent;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.reactivestreams.Publisher;
import org.springframework.context.ApplicationListener;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

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
    /** The holds of {@link #withLocks}, by set, to be ended when a member is lost. */
    private final ConcurrentHashMap<AdvisoryLockSet, Consumer<LockLostException>> sets = new ConcurrentHashMap<>();

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
        return Mono.defer(() -> ReactiveHold.of(registry.lock(name, options), null).acquisition());
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
        return Flux.defer(() -> ReactiveHold.of(registry.lock(name, options), this).held(work));
    }

    /**
     * Takes every lock of {@code names} on subscription, all or nothing, as one
     * {@link AdvisoryLockSet} ({@link LockRegistry#locks}: in one global key order, so that two
     * overlapping sets never deadlock), then holds them all for the life of the publisher
     * {@code work} supplies, as {@link #withLock} holds one: released exactly once, the completion
     * passing on after the release.
     *
     * <p><b>Contention and timeout</b>: the options' wait bounds the whole set; a set not obtained
     * ends with {@link AcquireFailureException} and holds none, and {@code work} is not called.
     * <b>Cancel</b>: while waiting, cancels the server wait and gives back the members already
     * taken; while held, cancels the work and releases every member. <b>Loss</b> of any member:
     * cancels the work and ends with {@link LockLostException}, the other members released.
     *
     * @throws IllegalArgumentException at once, if there are no names, or one is blank or too long
     */
    public <T> Flux<T> withLocks(Collection<String> names, LockOptions options, Supplier<? extends Publisher<T>> work) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(work, "work");
        List<String> copy = List.copyOf(names);
        registry.locks(copy, options); // checks the names now, not at subscription
        return Flux.defer(() -> ReactiveHold.of(registry.locks(copy, options), this).held(work));
    }

    /**
     * The fencing token of the one lock that the subscriber's chain holds through
     * {@link #withLock} or a reactive {@code @AdvisoryLocked} method on one name, read from the
     * Reactor {@code Context}: subscribe to it inside that work, e.g.
     * {@code locks.withLock("report", options, () -> ReactiveLockRegistry.fencingToken().flatMap(token -> store.write(report, token)))}.
     * The reactive counterpart of {@link AdvisoryLock#fencingToken()} and
     * {@code AdvisoryLocks.fencingToken()}; needs {@code pals.fencing-tokens}.
     *
     * <p>The first token of a hold costs one round trip, made on Reactor's bounded-elastic
     * scheduler so that no subscriber's thread waits for the server; later ones answer the same
     * token. Never waits for other holders. A lock set's members have no token here.
     *
     * @return emits the token, or fails with {@link IllegalStateException} if the chain holds no
     *     such lock, or several (name one with {@link #fencingToken(String)}), or fencing tokens
     *     are not enabled; with {@link LockLostException} if the lock was lost
     */
    public static Mono<Long> fencingToken() {
        return Mono.deferContextual(context -> {
            Map<String, AdvisoryLock> held = context.hasKey(ReactiveHold.HANDLES) ? context.get(ReactiveHold.HANDLES) : Map.of();
            if (held.size() != 1) {
                return Mono.error(new IllegalStateException("ReactiveLockRegistry.fencingToken() was subscribed to "
                        + "with " + held.size() + " locks held through withLock or a reactive @AdvisoryLocked method "
                        + "in its chain; it needs exactly one" + (held.isEmpty()
                                ? " (subscribe to it inside the locked work, whose Context carries the lock)"
                                : ", so name it: fencingToken(name)")));
            }
            return token(held.values().iterator().next());
        });
    }

    /**
     * The fencing token of the lock {@code name} (the resolved name) that the subscriber's chain
     * holds through {@link #withLock} or a reactive {@code @AdvisoryLocked} method, as
     * {@link #fencingToken()}.
     *
     * @return emits the token, or fails as {@link #fencingToken()} does
     */
    public static Mono<Long> fencingToken(String name) {
        Objects.requireNonNull(name, "name");
        return Mono.deferContextual(context -> {
            Map<String, AdvisoryLock> held = context.hasKey(ReactiveHold.HANDLES) ? context.get(ReactiveHold.HANDLES) : Map.of();
            AdvisoryLock lock = held.get(name);
            return lock != null ? token(lock) : Mono.error(new IllegalStateException("ReactiveLockRegistry."
                    + "fencingToken(\"" + name + "\") was subscribed to outside any withLock or reactive "
                    + "@AdvisoryLocked method holding lock '" + name + "' in its chain"));
        });
    }

    private static Mono<Long> token(AdvisoryLock lock) {
        // the first token of a hold is a round trip: off the subscriber's thread
        return Mono.fromCallable(lock::fencingToken).subscribeOn(Schedulers.boundedElastic());
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
        // a set's member handles are its own: a loss on one of its keys that leaves it not held is its loss
        sets.forEach((set, onLoss) -> {
            if (set.keys().contains(event.getLock().key()) && !set.isHeld()) {
                onLoss.accept(event.getCause());
            }
        });
    }

    void watch(AdvisoryLock lock, Consumer<LockLostException> onLoss) {
        holds.put(lock, onLoss);
    }

    void unwatch(AdvisoryLock lock) {
        holds.remove(lock);
    }

    void watch(AdvisoryLockSet set, Consumer<LockLostException> onLoss) {
        sets.put(set, onLoss);
    }

    void unwatch(AdvisoryLockSet set) {
        sets.remove(set);
    }
}
