package dev.pals.spring.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import dev.pals.LockKey;
import dev.pals.LockLostException;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.LockNotAcquiredEvent;
import dev.pals.spring.OnContention;
import dev.pals.spring.StarterTestSupport;
import dev.pals.spring.autoconfigure.PalsObservabilityAutoConfiguration;
import dev.pals.spring.observability.LockMeters;
import dev.pals.spring.observability.LockObservations;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.EventListener;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/** @AdvisoryLocked on methods returning a reactive type: the lock lives as long as the publisher. */
class ReactiveAdvisoryLockedTest extends StarterTestSupport {

    private static final Duration LONG = Duration.ofSeconds(30);

    /** Reactive methods as a WebFlux service writes them; the work runs after the call returned. */
    public static class Reports {
        final AtomicInteger running = new AtomicInteger();
        final AtomicInteger runs = new AtomicInteger();

        /** Read through the proxy, which has no state of its own. */
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

        @AdvisoryLocked(name = "report", blocking = false)
        public Mono<String> report(Mono<String> work) {
            return tracked(work.flux()).next();
        }

        @AdvisoryLocked(name = "report", blocking = false, onContention = OnContention.SKIP)
        public Mono<String> skipReport(Mono<String> work) {
            return tracked(work.flux()).next();
        }

        @AdvisoryLocked(name = "report", timeout = "20s")
        public Mono<String> waitReport(Mono<String> work) {
            return tracked(work.flux()).next();
        }

        @AdvisoryLocked(name = "report", blocking = false)
        public Flux<String> lines(Flux<String> work) {
            return tracked(work);
        }

        @AdvisoryLocked(name = "report", blocking = false, holdAtLeast = "2s")
        public Mono<String> quick() {
            return Mono.just("quick");
        }

        @AdvisoryLocked(name = "report", blocking = false)
        public Mono<String> outer(Reports self, Mono<String> work) {
            return self.report(work).map(inner -> "outer " + inner);
        }
    }

    /** Every call that did not get its lock. */
    static class NotAcquired {
        final List<LockNotAcquiredEvent> events = new CopyOnWriteArrayList<>();

        @EventListener
        void notAcquired(LockNotAcquiredEvent event) {
            events.add(event);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Service {
        @Bean
        Reports reports() {
            return new Reports();
        }

        @Bean
        NotAcquired notAcquired() {
            return new NotAcquired();
        }
    }

    private ApplicationContextRunner service() {
        return instance().withPropertyValues("pals.loss-check-interval=200ms", "pals.network-timeout=1s")
                .withUserConfiguration(Service.class);
    }

    private static boolean held(AssertableApplicationContext context, String name) throws Exception {
        return locks(context, name, true) == 1;
    }

    private static int locks(AssertableApplicationContext context, String name, boolean granted) throws Exception {
        LockKey key = context.getBean(LockRegistry.class).lock(name).key();
        return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), granted);
    }

    /** Subscribes to a locked call that holds its lock until disposed, and waits until it does. */
    private static Disposable holding(AssertableApplicationContext context) {
        Reports reports = context.getBean(Reports.class);
        Disposable holder = reports.report(Mono.never()).subscribe();
        await().atMost(LONG).until(() -> reports.running().get() == 1);
        assertThat(uncheckedHeld(context)).isTrue();
        return holder;
    }

    @Test
    void lockedMonoHoldsItsLockWhileItsWorkRunsAfterTheCallReturned() {
        twoInstances(service(), (one, two) -> {
            Sinks.One<String> work = Sinks.one();
            Mono<String> call = one.getBean(Reports.class).report(work.asMono());
            assertThat(held(one, "report")).as("held before subscription").isFalse();

            StepVerifier.create(call).then(() -> {
                await().atMost(LONG).until(() -> one.getBean(Reports.class).running().get() == 1);
                assertThat(uncheckedHeld(one)).isTrue();
                work.tryEmitValue("done");
            }).expectNext("done").verifyComplete();
            // the completion passes on only after the release
            assertThat(held(one, "report")).isFalse();
        });
    }

    private static boolean uncheckedHeld(AssertableApplicationContext context) {
        try {
            return held(context, "report");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void lockedMonoOfAnotherInstanceFailsWithContendedAndDoesNotRun() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one);
            Reports other = two.getBean(Reports.class);

            StepVerifier.create(other.report(Mono.just("x"))).expectErrorSatisfies(e -> assertThat(e)
                    .isInstanceOfSatisfying(AcquireFailureException.class,
                            failure -> assertThat(failure.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED))
                    .hasMessageContaining("report(Mono)")).verify(LONG);
            assertThat(other.runs().get()).isZero();
            holder.dispose();
        });
    }

    @Test
    void skipCompletesEmptyWithoutRunningAndPublishesLockNotAcquired() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one);
            Reports other = two.getBean(Reports.class);

            StepVerifier.create(other.skipReport(Mono.just("x"))).verifyComplete();

            assertThat(other.runs().get()).isZero();
            assertThat(two.getBean(NotAcquired.class).events).singleElement().satisfies(event -> {
                assertThat(event.getLockName()).isEqualTo("report");
                assertThat(event.isSkipped()).isTrue();
            });
            holder.dispose();
        });
    }

    @Test
    void cancellingALockedMonoReleasesItsLock() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one);

            holder.dispose();

            await().atMost(LONG).until(() -> !held(one, "report"));
            assertThat(one.getBean(Reports.class).running().get()).as("the work was cancelled too").isZero();
            StepVerifier.create(two.getBean(Reports.class).report(Mono.just("two"))).expectNext("two")
                    .verifyComplete();
        });
    }

    @Test
    void lockedFluxHoldsItsLockUntilItsLastElement() {
        twoInstances(service(), (one, two) -> {
            Sinks.Many<String> lines = Sinks.many().unicast().onBackpressureBuffer();

            StepVerifier.create(one.getBean(Reports.class).lines(lines.asFlux()))
                    .then(() -> lines.tryEmitNext("first"))
                    .expectNext("first")
                    .then(() -> {
                        assertThat(uncheckedHeld(one)).isTrue();
                        lines.tryEmitNext("last");
                    })
                    .expectNext("last")
                    .then(() -> {
                        assertThat(uncheckedHeld(one)).as("held after the last element, until completion").isTrue();
                        lines.tryEmitComplete();
                    })
                    .verifyComplete();
            assertThat(held(one, "report")).isFalse();
        });
    }

    @Test
    void blockingCallWaitsInTheServerWithoutBlockingItsSubscriberThread() {
        twoInstances(service(), (one, two) -> {
            Disposable holder = holding(one);
            Scheduler single = Schedulers.newSingle("subscriber");
            try {
                Mono<String> waiting = two.getBean(Reports.class).waitReport(Mono.just("late")).subscribeOn(single);

                StepVerifier.create(waiting).then(() -> {
                    await().atMost(LONG).until(() -> locks(two, "report", false) == 1);
                    // the subscriber's only thread is free while the call waits for the lock
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
    void nestedLockedCallOnTheSameNameInTheChainPassesThrough() {
        twoInstances(service(), (one, two) -> {
            Reports reports = one.getBean(Reports.class);

            StepVerifier.create(reports.outer(reports, Mono.just("inner"))).expectNext("outer inner").verifyComplete();
            assertThat(held(one, "report")).isFalse();
        });
    }

    @Test
    void lossWhileThePublisherRunsEndsItWithLockLost() {
        twoInstances(service(), (one, two) -> {
            Reports reports = one.getBean(Reports.class);

            StepVerifier.create(reports.report(Mono.never())).then(() -> {
                await().atMost(LONG).until(() -> uncheckedHeld(one));
                try {
                    DB.terminateSessions(namespace + "-locks@%");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }).expectError(LockLostException.class).verify(LONG);
            assertThat(reports.running().get()).as("the work was cancelled").isZero();
        });
    }

    @Test
    void holdAtLeastKeepsTheLockAfterAFastMonoCompletes() {
        twoInstances(service(), (one, two) -> {
            StepVerifier.create(one.getBean(Reports.class).quick()).expectNext("quick").verifyComplete();

            assertThat(held(one, "report")).isTrue();
            StepVerifier.create(two.getBean(Reports.class).report(Mono.just("x")))
                    .expectError(AcquireFailureException.class).verify(LONG);
            await().atMost(LONG).until(() -> !held(one, "report"));
        });
    }

    @Test
    void reactiveCallsAreMeteredAsOtherLockedCallsAre() {
        instance().withConfiguration(AutoConfigurations.of(ObservationAutoConfiguration.class,
                MetricsAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class,
                SimpleMetricsExportAutoConfiguration.class, PalsObservabilityAutoConfiguration.class))
                .withUserConfiguration(Service.class).run(context -> {
                    Reports reports = context.getBean(Reports.class);
                    MeterRegistry meters = context.getBean(MeterRegistry.class);
                    Sinks.One<String> work = Sinks.one();

                    StepVerifier.create(reports.report(work.asMono())).then(() -> {
                        await().atMost(LONG).until(() -> reports.running().get() == 1);
                        assertThat(meters.get(LockMeters.HELD).gauge().value()).isEqualTo(1);
                        work.tryEmitValue("done");
                    }).expectNext("done").verifyComplete();

                    assertThat(meters.get(LockObservations.ACQUIRE).tag(LockObservations.GROUP, "report")
                            .tag(LockObservations.OUTCOME, "acquired").timer().count()).isEqualTo(1);
                    assertThat(meters.get(LockObservations.HELD).tag(LockObservations.GROUP, "report").timer()
                            .count()).isEqualTo(1);
                    assertThat(meters.get(LockMeters.HELD).gauge().value()).isZero();
                });
    }
}
