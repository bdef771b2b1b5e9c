package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import dev.pals.HeldLock;
import dev.pals.LockKey;
import dev.pals.LockMode;
import dev.pals.LockRegistry;
import dev.pals.spring.LockedServices.Jobs;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.EventListener;
import org.springframework.scheduling.annotation.Async;
import org.springframework.scheduling.annotation.EnableAsync;

/** The attributes of @AdvisoryLocked that change how a call waits, skips, shares and holds, across two instances. */
class AdvisoryLockedAttributesTest extends StarterTestSupport {

    private final ExecutorService executor = Executors.newCachedThreadPool();

    @AfterEach
    void stopExecutor() {
        executor.shutdownNow();
    }

    static class Waits {
        private final AtomicInteger runs = new AtomicInteger();

        /** Read through the proxy, which has no state of its own. */
        public int runs() {
            return runs.get();
        }

        @AdvisoryLocked(name = "#name", timeout = "forever")
        public String forever(String name) {
            return "ran";
        }

        @AdvisoryLocked(name = "#name", timeout = "PT1M")
        public String oneMinute(String name) {
            return "ran";
        }

        @AdvisoryLocked(name = "#name", blocking = false, onContention = OnContention.SKIP)
        public CompletableFuture<String> skipAsync(String name) {
            runs.incrementAndGet();
            return CompletableFuture.completedFuture("ran");
        }

        @Async
        @AdvisoryLocked(name = "#name", blocking = false, onContention = OnContention.SKIP)
        public CompletableFuture<String> skipOnExecutor(String name) {
            runs.incrementAndGet();
            return CompletableFuture.completedFuture("ran");
        }

        @AdvisoryLocked(name = "#name", holdAtLeast = "3s")
        public void failFast(String name) {
            throw new IllegalStateException("boom");
        }

        @AdvisoryLocked(name = "#name", holdAtLeast = "30s")
        public void returnAtOnce(String name) {
        }
    }

    static class Losses {
        final List<String> names = new CopyOnWriteArrayList<>();

        @EventListener
        void lost(LockLostEvent event) {
            names.add(event.getLock().name());
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableAsync
    static class Fixture {
        @Bean
        Waits waits() {
            return new Waits();
        }

        @Bean
        Losses losses() {
            return new Losses();
        }
    }

    /** A default timeout far below the waits of these tests, so that a method that fell back to it fails. */
    private ApplicationContextRunner service() {
        return instance().withPropertyValues("pals.acquire-timeout=200ms", "pals.loss-check-interval=200ms")
                .withUserConfiguration(Fixture.class, LockedServices.Fixture.class);
    }

    @Test
    void timeoutForeverWaitsBeyondTheDefaultTimeoutAndRunsOnceTheHolderReleases() {
        twoInstances(service(), (one, two) -> {
            HeldLock held = one.getBean(LockRegistry.class).lock("forever").hold();
            Future<String> call = executor.submit(() -> two.getBean(Waits.class).forever("forever"));
            awaitWaitingInTheServer(held.lock().key());

            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> !call.isDone());
            held.close();

            assertThat(call.get(30, TimeUnit.SECONDS)).isEqualTo("ran");
        });
    }

    @Test
    void timeoutInIsoFormIsParsedAsADurationAndWaitsBeyondTheDefaultTimeout() {
        twoInstances(service(), (one, two) -> {
            HeldLock held = one.getBean(LockRegistry.class).lock("iso").hold();
            Future<String> call = executor.submit(() -> two.getBean(Waits.class).oneMinute("iso"));
            awaitWaitingInTheServer(held.lock().key());

            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> !call.isDone());
            held.close();

            assertThat(call.get(30, TimeUnit.SECONDS)).isEqualTo("ran");
        });
    }

    @Test
    void skippedAsyncMethodReturnsACompletedFutureOfNullWithoutRunning() {
        twoInstances(service(), (one, two) -> {
            try (HeldLock held = one.getBean(LockRegistry.class).lock("async-job").hold()) {
                Waits waits = two.getBean(Waits.class);

                assertThat(waits.skipAsync("async-job")).isCompletedWithValue(null);
                assertThat(waits.runs()).isZero();
            }
        });
    }

    @Test
    void skippedAsyncAnnotatedMethodCompletesItsFutureWithNullWithoutRunning() {
        twoInstances(service(), (one, two) -> {
            try (HeldLock held = one.getBean(LockRegistry.class).lock("executor-job").hold()) {
                Waits waits = two.getBean(Waits.class);

                assertThat(waits.skipOnExecutor("executor-job").get(30, TimeUnit.SECONDS)).isNull();
                assertThat(waits.runs()).isZero();
            }
            assertThat(two.getBean(Waits.class).skipOnExecutor("executor-job").get(30, TimeUnit.SECONDS))
                    .isEqualTo("ran");
        });
    }

    @Test
    void nameEvaluatingToNullFailsTheCallNamingTheMethodWithoutRunningIt() {
        service().run(context -> {
            Jobs jobs = context.getBean(Jobs.class);

            assertThatThrownBy(() -> jobs.tryRun(null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("@AdvisoryLocked on Jobs.tryRun(String): ")
                    .hasMessageContaining("evaluated to null");
            assertThat(jobs.runs()).isZero();
        });
    }

    @Test
    void exclusiveCallIsRefusedWhileASharedCallOfAnotherInstanceHolds() {
        twoInstances(service(), (one, two) -> {
            // the shared reader stays inside until the test counts the latch down to zero
            CountDownLatch inside = new CountDownLatch(2);
            Future<Boolean> reader = executor.submit(() -> one.getBean(Jobs.class).readTogether("catalog", inside));
            await().atMost(Duration.ofSeconds(30)).until(() -> inside.getCount() == 1);
            Jobs other = two.getBean(Jobs.class);

            assertThatThrownBy(() -> other.tryRun("catalog"))
                    .isInstanceOfSatisfying(AcquireFailureException.class, e -> {
                        assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED);
                        assertThat(e.mode()).isEqualTo(LockMode.EXCLUSIVE);
                    });
            assertThat(other.runs()).isZero();
            inside.countDown();
            assertThat(reader.get(30, TimeUnit.SECONDS)).isTrue();
            assertThat(other.tryRun("catalog")).isEqualTo("ran");
        });
    }

    @Test
    void methodThatThrowsPropagatesItsExceptionAndStillHoldsForTheRestOfHoldAtLeast() {
        twoInstances(service(), (one, two) -> {
            LockKey key = one.getBean(LockRegistry.class).lock("failing").key();
            long start = System.nanoTime();

            assertThatThrownBy(() -> one.getBean(Waits.class).failFast("failing"))
                    .isInstanceOf(IllegalStateException.class).hasMessage("boom");

            assertThatThrownBy(() -> two.getBean(Jobs.class).tryRun("failing"))
                    .isInstanceOf(AcquireFailureException.class);
            await().atMost(Duration.ofSeconds(30)).until(() -> DB.advisoryLocks(key.classId(), key.objId(),
                    key.objSubId(), true) == 0);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofSeconds(3));
        });
    }

    @Test
    void lossDuringTheExtraTimeOfHoldAtLeastIsPublishedAsLockLostEvent() {
        service().run(context -> {
            context.getBean(Waits.class).returnAtOnce("extra");
            Losses losses = context.getBean(Losses.class);
            assertThat(losses.names).isEmpty();

            DB.terminateSessions(namespace + "-locks@%");

            await().atMost(Duration.ofSeconds(30))
                    .untilAsserted(() -> assertThat(losses.names).containsExactly("extra"));
        });
    }

    private static void awaitWaitingInTheServer(LockKey key) {
        await().atMost(Duration.ofSeconds(30)).until(() -> DB.advisoryLocks(key.classId(), key.objId(),
                key.objSubId(), false) == 1);
    }
}
