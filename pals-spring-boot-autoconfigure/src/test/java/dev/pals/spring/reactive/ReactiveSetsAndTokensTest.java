package dev.pals.spring.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import dev.pals.LockKey;
import dev.pals.LockLostException;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.StarterTestSupport;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/** ReactiveLockRegistry.withLocks, and fencing tokens read from the Reactor Context, on two instances. */
class ReactiveSetsAndTokensTest extends StarterTestSupport {

    private static final Duration LONG = Duration.ofSeconds(30);
    private static final LockOptions NO_WAIT = LockOptions.exclusive().withBlocking(false);
    private static final List<String> ACCOUNTS = List.of("account:a", "account:b");

    /** A reactive method writing to a store outside PostgreSQL with its lock's token. */
    public static class Exporter {
        final AtomicInteger runs = new AtomicInteger();

        @AdvisoryLocked(name = "export", blocking = false)
        public Mono<Long> export() {
            return ReactiveLockRegistry.fencingToken().doOnNext(token -> runs.incrementAndGet());
        }

        @AdvisoryLocked(name = "export", blocking = false)
        public Mono<Long> exportNamed() {
            return ReactiveLockRegistry.fencingToken("export");
        }
    }

    private ApplicationContextRunner service() {
        return instance().withConfiguration(AutoConfigurations.of(ReactiveLockRegistryAutoConfiguration.class))
                .withPropertyValues("pals.loss-check-interval=200ms", "pals.network-timeout=1s",
                        "pals.fencing-tokens=create")
                .withBean(Exporter.class);
    }

    private static ReactiveLockRegistry locks(AssertableApplicationContext context) {
        return context.getBean(ReactiveLockRegistry.class);
    }

    private static boolean held(AssertableApplicationContext context, String name) {
        LockKey key = context.getBean(LockRegistry.class).lock(name).key();
        try {
            return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true) == 1;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void withLocksHoldsEveryNameWhileTheWorkRunsAndNoneOnceItCompletes() {
        twoInstances(service(), (one, two) -> {
            Mono<Boolean> bothHeldInside = Mono.fromCallable(() -> held(one, "account:a") && held(one, "account:b"));

            StepVerifier.create(locks(one).withLocks(ACCOUNTS, NO_WAIT, () -> bothHeldInside))
                    .expectNext(true).verifyComplete();

            assertThat(held(one, "account:a") || held(one, "account:b")).isFalse();
        });
    }

    @Test
    void withLocksFailsContendedWithoutRunningTheWorkAndHoldsNoneWhenAnotherInstanceHoldsOneName() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = locks(one).withLock("account:b", NO_WAIT, Flux::never).subscribe();
            await().atMost(LONG).until(() -> held(one, "account:b"));
            AtomicInteger runs = new AtomicInteger();

            StepVerifier.create(locks(two).withLocks(ACCOUNTS, NO_WAIT, () -> Mono.fromRunnable(runs::incrementAndGet)))
                    .expectErrorSatisfies(e -> assertThat(e).isInstanceOfSatisfying(AcquireFailureException.class,
                            failure -> assertThat(failure.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED)))
                    .verify(LONG);

            assertThat(runs).hasValue(0);
            assertThat(held(two, "account:a")).isFalse();
            holder.dispose();
        });
    }

    @Test
    void cancellingWithLocksWhileHeldReleasesEveryName() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = locks(one).withLocks(ACCOUNTS, NO_WAIT, Flux::never).subscribe();
            await().atMost(LONG).until(() -> held(one, "account:a") && held(one, "account:b"));

            holder.dispose();

            await().atMost(LONG).until(() -> !held(one, "account:a") && !held(one, "account:b"));
        });
    }

    @Test
    void lossOfAMemberEndsWithLocksWithLockLost() {
        twoInstances(service(), (one, two) -> {
            StepVerifier.create(locks(one).withLocks(ACCOUNTS, NO_WAIT, Flux::never)).then(() -> {
                await().atMost(LONG).until(() -> held(one, "account:a") && held(one, "account:b"));
                try {
                    DB.terminateSessions(namespace + "-locks@%");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }).expectError(LockLostException.class).verify(LONG);
        });
    }

    @Test
    void withLockWorkReadsItsFencingTokenFromTheContextAndALaterHoldOnAnotherInstanceGetsAGreaterOne() {
        twoInstances(service(), (one, two) -> {
            Long first = locks(one).withLockMono("report", NO_WAIT, ReactiveLockRegistry::fencingToken).block(LONG);
            Long second = locks(two).withLockMono("report", NO_WAIT, () -> ReactiveLockRegistry.fencingToken("report"))
                    .block(LONG);

            assertThat(first).isNotNull();
            assertThat(second).isGreaterThan(first);
        });
    }

    @Test
    void aReactiveLockedMethodReadsItsFencingTokenAndEachNewHoldGetsAGreaterOne() {
        twoInstances(service(), (one, two) -> {
            Long first = one.getBean(Exporter.class).export().block(LONG);
            Long second = two.getBean(Exporter.class).exportNamed().block(LONG);
            Long third = one.getBean(Exporter.class).export().block(LONG);

            assertThat(first).isNotNull();
            assertThat(second).isGreaterThan(first);
            assertThat(third).isGreaterThan(second);
        });
    }

    @Test
    void theFencingTokenOutsideAnyLockedWorkFailsWithAClearMessage() {
        StepVerifier.create(ReactiveLockRegistry.fencingToken())
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("0 locks held").hasMessageContaining("inside the locked work"))
                .verify(LONG);
    }

    /** Reactive permits are not supported yet: refused at start-up rather than held for the wrong span. */
    public static class ReactivePermits {
        @AdvisoryLocked(name = "exports", permits = 2)
        public Mono<String> run() {
            return Mono.just("ran");
        }
    }

    @Test
    void permitsOnAMonoMethodAreRefusedAtStartUpSayingToTakeThePermitInsideTheWork() {
        instance().withBean(ReactivePermits.class).run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).rootCause()
                    .hasMessageStartingWith("@AdvisoryLocked on ReactivePermits.run()")
                    .hasMessageContaining("take the permit inside that work");
        });
    }
}
