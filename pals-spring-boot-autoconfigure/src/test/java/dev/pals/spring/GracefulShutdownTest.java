package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.pals.AdvisoryLock;
import dev.pals.LockKey;
import dev.pals.LockRegistry;
import dev.pals.spring.leader.Leadership;
import dev.pals.spring.leader.LeadershipRevokedEvent;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.EventListener;

/** The context's close: the leader steps down, running locked methods finish, then the registry closes. */
class GracefulShutdownTest extends StarterTestSupport {

    static class Work {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch proceed = new CountDownLatch(1);

        @AdvisoryLocked(name = "long-job")
        public String longJob() throws InterruptedException {
            entered.countDown();
            return proceed.await(60, TimeUnit.SECONDS) ? "finished" : "gave up";
        }

        /** Read through the proxy, which has no state of its own. */
        public CountDownLatch entered() {
            return entered;
        }

        public CountDownLatch proceed() {
            return proceed;
        }

        @AdvisoryLocked(name = "other-job")
        public void otherJob() {
        }

        /** A job that skips when it cannot have its lock, as a scheduler would run it. */
        @AdvisoryLocked(name = "skipping-job", blocking = false, onContention = OnContention.SKIP)
        public String skippingJob() {
            return "ran";
        }
    }

    /** Whether the registry still took new locks when the leader was told it stepped down. */
    static class StepDown {
        final List<Boolean> registryOpen = new CopyOnWriteArrayList<>();
        private final LockRegistry registry;

        StepDown(LockRegistry registry) {
            this.registry = registry;
        }

        @EventListener
        void revoked(LeadershipRevokedEvent event) {
            AdvisoryLock probe = registry.lock("probe");
            boolean open;
            try {
                open = probe.tryAcquire();
                probe.release();
            } catch (IllegalStateException closing) {
                open = false;
            }
            registryOpen.add(open);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Work work() {
            return new Work();
        }

        @Bean
        StepDown stepDown(LockRegistry registry) {
            return new StepDown(registry);
        }
    }

    @Test
    void aLockedMethodRunningAtShutdownFinishesWhileNewCallsAreRefusedAndTheLeaderStepsDownFirst() {
        instance().withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=30s",
                        "pals.leader.name=shutdown-leader", "pals.leader.retry-interval=100ms")
                .withUserConfiguration(Fixture.class).run(context -> {
                    Work work = context.getBean(Work.class);
                    LockRegistry registry = context.getBean(LockRegistry.class);
                    StepDown stepDown = context.getBean(StepDown.class);
                    await().atMost(Duration.ofSeconds(30)).until(() -> context.getBean(Leadership.class).isLeader());
                    CompletableFuture<String> running = CompletableFuture.supplyAsync(() -> {
                        try {
                            return work.longJob();
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                    });
                    assertThat(work.entered().await(30, TimeUnit.SECONDS)).isTrue();
                    LockKey key = registry.lock("long-job").key();

                    ConfigurableApplicationContext source = context.getSourceApplicationContext();
                    CompletableFuture<Void> closing = CompletableFuture.runAsync(source::close);

                    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThatThrownBy(work::otherJob)
                            .isInstanceOf(IllegalStateException.class).hasMessageContaining("shutting down"));
                    assertThat(work.skippingJob()).as("a job that skips when refused skips quietly").isNull();
                    assertThat(closing).as("the close waits for the running method").isNotDone();
                    assertThat(granted(key)).isEqualTo(1);

                    work.proceed().countDown();

                    assertThat(running).succeedsWithin(Duration.ofSeconds(10)).isEqualTo("finished");
                    assertThat(closing).succeedsWithin(Duration.ofSeconds(30));
                    assertThat(work.skippingJob()).as("and so it does once the registry is closed").isNull();
                    assertThatThrownBy(work::otherJob).isInstanceOf(IllegalStateException.class)
                            .hasMessageContaining("closed");
                    assertThat(granted(key)).isZero();
                    assertThat(stepDown.registryOpen)
                            .as("the leader stepped down while the registry still took locks").containsExactly(true);
                });
    }

    @Test
    void aHoldThatOutlivesTheShutdownPhaseIsReleasedWhenItEnds() {
        instance().withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=2s").run(context -> {
            LockRegistry registry = context.getBean(LockRegistry.class);
            AdvisoryLock stuck = registry.lock("stuck");
            assertThat(stuck.tryAcquire()).isTrue();

            long start = System.nanoTime();
            context.getSourceApplicationContext().close();

            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertThat(took).as("the phase's timeout less a second").isGreaterThanOrEqualTo(Duration.ofSeconds(1))
                    .isLessThan(Duration.ofSeconds(10));
            assertThat(stuck.isHeld()).isFalse();
            assertThat(granted(stuck.key())).isZero();
        });
    }

    /** Sessions the server has granted {@code key}, seen from outside. */
    private static int granted(LockKey key) throws Exception {
        return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true);
    }
}
