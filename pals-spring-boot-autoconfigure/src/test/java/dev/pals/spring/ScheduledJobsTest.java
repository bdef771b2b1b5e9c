package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import dev.pals.LockKey;
import dev.pals.LockLostException;
import dev.pals.LockRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.EventListener;

/** What scheduled jobs need: hold-at-least, and a hook when a run is skipped. */
class ScheduledJobsTest extends StarterTestSupport {

    /** A job as a scheduler would call it on every instance. */
    static class Job {
        private final List<String> runs = new CopyOnWriteArrayList<>();

        /** Read through the proxy, which has no state of its own. */
        public List<String> runs() {
            return runs;
        }

        @AdvisoryLocked(name = "report", blocking = false, onContention = OnContention.SKIP, holdAtLeast = "3s")
        public void report() {
            runs.add("report");
        }

        @AdvisoryLocked(name = "export", blocking = false)
        public void export() {
        }

        @AdvisoryLocked(name = "fragile", holdAtLeast = "30s")
        public void fragile(CountDownLatch entered, CountDownLatch proceed) throws InterruptedException {
            entered.countDown();
            proceed.await(60, TimeUnit.SECONDS);
        }
    }

    /** Every run that did not get its lock. */
    static class NotAcquired {
        final List<LockNotAcquiredEvent> events = new CopyOnWriteArrayList<>();

        @EventListener
        void notAcquired(LockNotAcquiredEvent event) {
            events.add(event);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Job job() {
            return new Job();
        }

        @Bean
        NotAcquired notAcquired() {
            return new NotAcquired();
        }
    }

    private ApplicationContextRunner service() {
        return instance().withPropertyValues("pals.loss-check-interval=200ms").withUserConfiguration(Fixture.class);
    }

    @Test
    void aFastJobKeepsItsLockForItsHoldAtLeastSoAnotherInstanceSkipsTheSameTick() {
        twoInstances(service(), (one, two) -> {
            long start = System.nanoTime();
            one.getBean(Job.class).report();
            LockKey key = one.getBean(LockRegistry.class).lock("report").key();
            assertThat(held(key)).as("still held after the call returned, so the caller did not wait").isTrue();

            two.getBean(Job.class).report();

            assertThat(two.getBean(Job.class).runs()).isEmpty();
            await().atMost(Duration.ofSeconds(30)).until(() -> !held(key));
            // released on a registry thread at its time: not before its 3 s, and within 2 s of slack after
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofSeconds(3))
                    .isLessThan(Duration.ofSeconds(5));
            two.getBean(Job.class).report();
            assertThat(two.getBean(Job.class).runs()).containsExactly("report");
        });
    }

    @Test
    void aSkippedRunIsPublishedAsAnEvent() {
        twoInstances(service(), (one, two) -> {
            one.getBean(Job.class).report();
            two.getBean(Job.class).report();

            assertThat(two.getBean(NotAcquired.class).events).singleElement().satisfies(event -> {
                assertThat(event.getLockName()).isEqualTo("report");
                assertThat(event.getMethod().getName()).isEqualTo("report");
                assertThat(event.getReason()).isEqualTo(AcquireFailureException.Reason.CONTENDED);
                assertThat(event.isSkipped()).isTrue();
            });
            assertThat(one.getBean(NotAcquired.class).events).isEmpty();
        });
    }

    @Test
    void aFailedAcquisitionIsPublishedAsNotSkipped() {
        twoInstances(service(), (one, two) -> {
            try (var held = one.getBean(LockRegistry.class).lock("export").hold()) {
                assertThatThrownBy(() -> two.getBean(Job.class).export()).isInstanceOf(AcquireFailureException.class);
            }
            assertThat(two.getBean(NotAcquired.class).events).singleElement()
                    .satisfies(event -> assertThat(event.isSkipped()).isFalse());
        });
    }

    @Test
    void aLockLostDuringTheCallIsThrownToTheCallerDespiteItsHoldAtLeast() {
        service().run(context -> {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch proceed = new CountDownLatch(1);
            CompletableFuture<Void> call = CompletableFuture.runAsync(() -> {
                try {
                    context.getBean(Job.class).fragile(entered, proceed);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
            DB.terminateSessions(namespace + "-locks@%");
            await().atMost(Duration.ofSeconds(30)).until(() -> context.getBean(LockRegistry.class).heldLocks() == 0);
            proceed.countDown();

            assertThatThrownBy(() -> call.get(30, TimeUnit.SECONDS)).cause().isInstanceOf(LockLostException.class);
        });
    }

    private static boolean held(LockKey key) throws Exception {
        return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true) > 0;
    }
}
