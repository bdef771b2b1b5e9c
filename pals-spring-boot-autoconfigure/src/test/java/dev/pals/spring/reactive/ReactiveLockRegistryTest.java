package dev.pals.spring.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.LockKey;
import dev.pals.LockLostException;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import dev.pals.spring.StarterTestSupport;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/** The auto-configured ReactiveLockRegistry, on two instances of one service. */
class ReactiveLockRegistryTest extends StarterTestSupport {

    private static final Duration LONG = Duration.ofSeconds(30);
    private static final LockOptions NO_WAIT = LockOptions.exclusive().withBlocking(false);

    private ApplicationContextRunner service() {
        return instance().withConfiguration(AutoConfigurations.of(ReactiveLockRegistryAutoConfiguration.class))
                .withPropertyValues("pals.loss-check-interval=200ms", "pals.network-timeout=1s");
    }

    private static ReactiveLockRegistry locks(AssertableApplicationContext context) {
        return context.getBean(ReactiveLockRegistry.class);
    }

    private static boolean held(AssertableApplicationContext context, String name) {
        return count(context, name, true) == 1;
    }

    private static int count(AssertableApplicationContext context, String name, boolean granted) {
        LockKey key = context.getBean(LockRegistry.class).lock(name).key();
        try {
            return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), granted);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Holds {@code name} on {@code context} until disposed, once it holds. */
    private static Disposable holding(AssertableApplicationContext context, String name) {
        Disposable holder = locks(context).withLock(name, NO_WAIT, Flux::never).subscribe();
        await().atMost(LONG).until(() -> held(context, name));
        return holder;
    }

    @Test
    void withLockHoldsForTheFluxsLifeAndReleasesBeforeCompletionPassesOn() {
        twoInstances(service(), (one, two) -> {
            Sinks.Many<String> work = Sinks.many().unicast().onBackpressureBuffer();
            AtomicInteger called = new AtomicInteger();
            Flux<String> locked = locks(one).withLock("batch", NO_WAIT, () -> {
                called.incrementAndGet();
                return work.asFlux();
            });
            assertThat(called).as("nothing before subscription").hasValue(0);

            StepVerifier.create(locked)
                    .then(() -> work.tryEmitNext("a"))
                    .expectNext("a")
                    .then(() -> {
                        assertThat(held(one, "batch")).isTrue();
                        StepVerifier.create(locks(two).withLock("batch", NO_WAIT, () -> Flux.just("b")))
                                .expectError(AcquireFailureException.class).verify(LONG);
                        work.tryEmitComplete();
                    })
                    .verifyComplete();
            assertThat(held(one, "batch")).isFalse();
            assertThat(called).hasValue(1);
        });
    }

    @Test
    void contendedWithLockFailsWithContendedWithoutCallingTheWork() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one, "batch");
            AtomicBoolean called = new AtomicBoolean();

            StepVerifier.create(locks(two).withLockMono("batch", NO_WAIT, () -> {
                called.set(true);
                return Mono.just("x");
            })).expectErrorSatisfies(e -> assertThat(e).isInstanceOfSatisfying(AcquireFailureException.class,
                    failure -> assertThat(failure.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED)))
                    .verify(LONG);
            assertThat(called).isFalse();
            holder.dispose();
        });
    }

    @Test
    void waitThatTimesOutFailsWithTimedOut() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one, "batch");

            StepVerifier.create(locks(two).withLockMono("batch",
                    LockOptions.exclusive().withTimeout(Duration.ofMillis(300)), () -> Mono.just("x")))
                    .expectErrorSatisfies(e -> assertThat(e).isInstanceOfSatisfying(AcquireFailureException.class,
                            failure -> assertThat(failure.reason()).isEqualTo(AcquireFailureException.Reason.TIMED_OUT)))
                    .verify(LONG);
            holder.dispose();
        });
    }

    @Test
    void cancelWhileHeldReleasesAndCancelsTheWork() {
        twoInstances(service(), (one, two) -> {
            AtomicBoolean running = new AtomicBoolean();
            AtomicBoolean cancelled = new AtomicBoolean();
            Disposable holder = locks(one).withLock("batch", NO_WAIT, () -> Flux.never()
                    .doOnSubscribe(subscription -> running.set(true)).doOnCancel(() -> cancelled.set(true))).subscribe();
            await().atMost(LONG).untilTrue(running);
            assertThat(held(one, "batch")).isTrue();

            holder.dispose();

            await().atMost(LONG).until(() -> !held(one, "batch"));
            assertThat(cancelled).isTrue();
        });
    }

    @Test
    void cancelWhileWaitingLeavesTheServerQueueAndHoldsNothing() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one, "batch");
            Disposable waiter = locks(two).withLock("batch", LockOptions.exclusive().withTimeout(LONG),
                    () -> Flux.just("x")).subscribe();
            await().atMost(LONG).until(() -> count(two, "batch", false) == 1);

            waiter.dispose();
            await().atMost(LONG).until(() -> count(two, "batch", false) == 0);
            holder.dispose();

            await().atMost(LONG).until(() -> !held(one, "batch"));
            assertThat(two.getBean(LockRegistry.class).heldLocks()).isZero();
        });
    }

    @Test
    void waitingDoesNotBlockTheSubscribersThread() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one, "batch");
            Scheduler single = Schedulers.newSingle("subscriber");
            try {
                Mono<String> waiting = locks(two).withLockMono("batch", LockOptions.exclusive().withTimeout(LONG),
                        () -> Mono.just("late")).subscribeOn(single);

                StepVerifier.create(waiting).then(() -> {
                    await().atMost(LONG).until(() -> count(two, "batch", false) == 1);
                    assertThat(Mono.fromCallable(() -> "free").subscribeOn(single).block(Duration.ofSeconds(5)))
                            .isEqualTo("free");
                    holder.dispose();
                }).expectNext("late").expectComplete().verify(LONG);
            } finally {
                single.dispose();
            }
        });
    }

    @Test
    void lossWhileHeldEndsTheFluxWithLockLost() {
        twoInstances(service(), (one, two) -> {
            StepVerifier.create(locks(one).withLock("batch", NO_WAIT, Flux::never)).then(() -> {
                await().atMost(LONG).until(() -> held(one, "batch"));
                try {
                    DB.terminateSessions(namespace + "-locks@%");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }).expectError(LockLostException.class).verify(LONG);
        });
    }

    @Test
    void acquireEmitsTheHeldHandleAndReleaseFreesIt() {
        twoInstances(service(), (one, two) -> {
            AdvisoryLock lock = locks(one).acquire("batch", NO_WAIT).block(LONG);
            assertThat(lock).isNotNull();
            assertThat(lock.isHeld()).isTrue();
            assertThat(held(one, "batch")).isTrue();
            StepVerifier.create(locks(two).acquire("batch", NO_WAIT)).expectError(AcquireFailureException.class)
                    .verify(LONG);

            StepVerifier.create(locks(one).release(lock)).verifyComplete();
            assertThat(held(one, "batch")).isFalse();
        });
    }
}
