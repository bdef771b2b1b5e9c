package dev.pals.spring.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import dev.pals.LockKey;
import dev.pals.LockLostException;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.OnContention;
import dev.pals.spring.StarterTestSupport;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

/** {@code @AdvisoryLocked(names = ...)} on reactive methods: every name held for the publisher's life. */
class ReactiveLockSetMethodsTest extends StarterTestSupport {

    private static final Duration LONG = Duration.ofSeconds(30);

    /** A transfer between two accounts, as a WebFlux service writes it. */
    public static class Transfers {
        final AtomicInteger running = new AtomicInteger();
        final AtomicInteger runs = new AtomicInteger();

        public AtomicInteger running() {
            return running;
        }

        public AtomicInteger runs() {
            return runs;
        }

        private <T> Flux<T> tracked(Flux<T> work) {
            return Flux.defer(() -> {
                runs.incrementAndGet();
                running.incrementAndGet();
                return work;
            }).doFinally(signal -> running.decrementAndGet());
        }

        @AdvisoryLocked(names = {"'account:' + #from", "'account:' + #to"}, blocking = false)
        public Mono<String> transfer(String from, String to, Mono<String> work) {
            return tracked(work.flux()).next();
        }

        @AdvisoryLocked(names = {"'account:' + #from", "'account:' + #to"}, blocking = false,
                onContention = OnContention.SKIP)
        public Mono<String> skipTransfer(String from, String to, Mono<String> work) {
            return tracked(work.flux()).next();
        }

        @AdvisoryLocked(names = {"'account:' + #from", "'account:' + #to"}, timeout = "20s")
        public Flux<String> waitTransfer(String from, String to, Flux<String> work) {
            return tracked(work);
        }

        @AdvisoryLocked(names = {"'account:' + #to", "'account:' + #from"}, blocking = false)
        public Mono<String> outer(Transfers self, String from, String to, Mono<String> work) {
            return self.transfer(from, to, work).map(inner -> "outer " + inner);
        }

        @AdvisoryLocked(name = "'account:' + #from", blocking = false)
        public Mono<String> onlyFrom(Transfers self, String from, String to, Mono<String> work) {
            return self.transfer(from, to, work);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Service {
        @Bean
        Transfers transfers() {
            return new Transfers();
        }
    }

    private ApplicationContextRunner service() {
        return instance().withPropertyValues("pals.loss-check-interval=200ms", "pals.network-timeout=1s")
                .withUserConfiguration(Service.class);
    }

    private static boolean held(AssertableApplicationContext context, String name) {
        LockKey key = context.getBean(LockRegistry.class).lock(name).key();
        try {
            return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true) == 1;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean bothHeld(AssertableApplicationContext context) {
        return held(context, "account:a") && held(context, "account:b");
    }

    private static boolean noneHeld(AssertableApplicationContext context) {
        return !held(context, "account:a") && !held(context, "account:b");
    }

    /** A transfer on {@code context} holding both accounts until disposed. */
    private static Disposable holding(AssertableApplicationContext context) {
        Transfers transfers = context.getBean(Transfers.class);
        Disposable holder = transfers.transfer("a", "b", Mono.never()).subscribe();
        await().atMost(LONG).until(() -> transfers.running().get() == 1);
        assertThat(bothHeld(context)).isTrue();
        return holder;
    }

    @Test
    void lockedMonoOnTwoNamesHoldsBothWhileItsWorkRunsAndReleasesBothBeforeItsValuePassesOn() {
        twoInstances(service(), (one, two) -> {
            Sinks.One<String> work = Sinks.one();
            Transfers transfers = one.getBean(Transfers.class);

            StepVerifier.create(transfers.transfer("a", "b", work.asMono())).then(() -> {
                await().atMost(LONG).until(() -> transfers.running().get() == 1);
                assertThat(bothHeld(one)).isTrue();
                work.tryEmitValue("done");
            }).expectNext("done").verifyComplete();
            assertThat(noneHeld(one)).isTrue();
        });
    }

    @Test
    void aTransferWhoseSecondAccountAnotherInstanceHoldsFailsContendedAndHoldsNeither() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one);
            Transfers other = two.getBean(Transfers.class);

            StepVerifier.create(other.transfer("b", "c", Mono.just("x"))).expectErrorSatisfies(e -> assertThat(e)
                    .isInstanceOfSatisfying(AcquireFailureException.class,
                            failure -> assertThat(failure.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED))
                    .hasMessageContaining("transfer(String, String, Mono)")).verify(LONG);

            assertThat(other.runs().get()).isZero();
            assertThat(held(two, "account:c")).isFalse();
            holder.dispose();
        });
    }

    @Test
    void skipCompletesEmptyWithoutRunningWhenAnotherInstanceHoldsOneName() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one);
            Transfers other = two.getBean(Transfers.class);

            StepVerifier.create(other.skipTransfer("b", "a", Mono.just("x"))).verifyComplete();

            assertThat(other.runs().get()).isZero();
            holder.dispose();
        });
    }

    @Test
    void aWaitingTransferGetsBothNamesOnceTheOtherInstanceLetsGoWithoutBlockingItsSubscriber() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one);
            Transfers other = two.getBean(Transfers.class);

            StepVerifier.create(other.waitTransfer("b", "a", Flux.just("x", "y"))).then(() -> {
                assertThat(other.runs().get()).isZero();
                holder.dispose();
            }).expectNext("x", "y").verifyComplete();
            assertThat(noneHeld(two)).isTrue();
        });
    }

    @Test
    void cancellingALockedMonoOnTwoNamesReleasesBoth() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one);

            holder.dispose();

            await().atMost(LONG).until(() -> noneHeld(one));
        });
    }

    @Test
    void aNestedCallOnTheSameNamesInAnyOrderPassesThrough() {
        twoInstances(service(), (one, two) -> {
            Transfers transfers = one.getBean(Transfers.class);

            StepVerifier.create(transfers.outer(transfers, "a", "b", Mono.just("inner")))
                    .expectNext("outer inner").verifyComplete();
            assertThat(noneHeld(one)).isTrue();
        });
    }

    @Test
    void aNestedCallWantingMoreNamesThanTheOuterHoldsFailsInsteadOfBreakingTheOrder() {
        twoInstances(service(), (one, two) -> {
            Transfers transfers = one.getBean(Transfers.class);

            StepVerifier.create(transfers.onlyFrom(transfers, "a", "b", Mono.just("inner")))
                    .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalStateException.class)
                            .hasMessageContaining("holds only [account:a]"))
                    .verify(LONG);
            assertThat(noneHeld(one)).isTrue();
        });
    }

    @Test
    void lossOfAMemberWhileThePublisherRunsEndsItWithLockLost() {
        twoInstances(service(), (one, two) -> {
            Transfers transfers = one.getBean(Transfers.class);

            StepVerifier.create(transfers.transfer("a", "b", Mono.never())).then(() -> {
                await().atMost(LONG).until(() -> bothHeld(one));
                try {
                    DB.terminateSessions(namespace + "-locks@%");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }).expectError(LockLostException.class).verify(LONG);
            assertThat(transfers.running().get()).as("the work was cancelled").isZero();
        });
    }
}
