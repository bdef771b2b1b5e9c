package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code @AdvisoryLocked(permits = N)}: a cluster-wide concurrency limit, on two instances. */
class PermitsTest extends StarterTestSupport {

    private final ExecutorService executor = Executors.newCachedThreadPool();

    @AfterEach
    void stopExecutor() {
        executor.shutdownNow();
    }

    /** Counts the calls inside, shared by both instances as the database would be. */
    static final AtomicInteger INSIDE = new AtomicInteger();
    static final AtomicInteger MOST = new AtomicInteger();

    static class Exports {
        @AdvisoryLocked(name = "exports", permits = 2, timeout = "30s")
        public void export(CountDownLatch release) throws InterruptedException {
            MOST.accumulateAndGet(INSIDE.incrementAndGet(), Math::max);
            try {
                release.await(30, TimeUnit.SECONDS);
            } finally {
                INSIDE.decrementAndGet();
            }
        }

        @AdvisoryLocked(name = "exports", permits = 2, blocking = false)
        public String tryExport() {
            return "exported";
        }

        @AdvisoryLocked(name = "exports", permits = 2, blocking = false, onContention = OnContention.SKIP)
        public String exportOrSkip() {
            return "exported";
        }

        @AdvisoryLocked(name = "single", permits = 1, blocking = false)
        public String inner() {
            return "inner";
        }
    }

    /** Calls {@link Exports#inner()} through its proxy while holding the one permit of the same semaphore. */
    static class NestedCaller {
        private final Exports exports;

        NestedCaller(Exports exports) {
            this.exports = exports;
        }

        @AdvisoryLocked(name = "single", permits = 1, blocking = false)
        public String outer() {
            return exports.inner();
        }
    }

    static class ThreeExports {
        @AdvisoryLocked(name = "exports", permits = 3, blocking = false)
        public String tryExport() {
            return "exported";
        }
    }

    @Test
    void twoInstancesLetAtMostTwoCallsInAndTheThirdIsRefused() {
        twoInstances(instance().withBean(Exports.class), (one, two) -> {
            INSIDE.set(0);
            MOST.set(0);
            CountDownLatch release = new CountDownLatch(1);
            List<Future<?>> calls = new ArrayList<>();
            calls.add(executor.submit(() -> {
                one.getBean(Exports.class).export(release);
                return null;
            }));
            calls.add(executor.submit(() -> {
                two.getBean(Exports.class).export(release);
                return null;
            }));
            await().atMost(Duration.ofSeconds(30)).until(() -> INSIDE.get() == 2);

            assertThatThrownBy(() -> one.getBean(Exports.class).tryExport())
                    .isInstanceOfSatisfying(AcquireFailureException.class,
                            e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED));
            assertThat(two.getBean(Exports.class).exportOrSkip()).isNull();

            release.countDown();
            for (Future<?> call : calls) {
                call.get(30, TimeUnit.SECONDS);
            }
            assertThat(MOST.get()).isEqualTo(2);
            assertThat(two.getBean(Exports.class).tryExport()).isEqualTo("exported");
        });
    }

    @Test
    void aNestedCallOnTheSameSemaphoreRunsOnTheOuterCallsPermit() {
        instance().withBean(Exports.class).withBean(NestedCaller.class).run(context -> {
            assertThat(context.getBean(NestedCaller.class).outer()).isEqualTo("inner");
            assertThat(context.getBean(Exports.class).inner()).as("the permit was given back").isEqualTo("inner");
        });
    }

    @Test
    void anInstanceWithAnotherNumberOfPermitsIsRefusedWhileTheOtherHolds() {
        twoInstances(instance().withBean(Exports.class).withBean(ThreeExports.class), (one, two) -> {
            CountDownLatch release = new CountDownLatch(1);
            INSIDE.set(0);
            Future<?> holding = executor.submit(() -> {
                one.getBean(Exports.class).export(release);
                return null;
            });
            await().atMost(Duration.ofSeconds(30)).until(() -> INSIDE.get() == 1);

            assertThatThrownBy(() -> two.getBean(ThreeExports.class).tryExport())
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("has 3 permits here")
                    .hasMessageContaining("with 2 permits");
            release.countDown();
            holding.get(30, TimeUnit.SECONDS);
        });
    }

    static List<Arguments> mistakes() {
        return List.of(
                Arguments.of(NegativePermits.class, "permits = -1 is outside 1 to"),
                Arguments.of(SharedPermits.class, "cannot be combined with mode = SHARED"),
                Arguments.of(TransactionPermits.class, "cannot be combined with scope = TRANSACTION"),
                Arguments.of(HoldAtLeastPermits.class, "cannot be combined with holdAtLeast"),
                Arguments.of(AsyncPermits.class, "cannot be combined with a method whose work goes on"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("mistakes")
    void aWrongPermitsAttributeFailsStartUpNamingTheMethod(Class<?> bean, String problem) {
        instance().withBean(bean).run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).rootCause()
                    .hasMessageStartingWith("@AdvisoryLocked on " + bean.getSimpleName() + ".run()")
                    .hasMessageContaining(problem);
        });
    }

    static class NegativePermits {
        @AdvisoryLocked(name = "job", permits = -1)
        public void run() {
        }
    }

    static class SharedPermits {
        @AdvisoryLocked(name = "job", permits = 2, mode = dev.pals.LockMode.SHARED)
        public void run() {
        }
    }

    static class TransactionPermits {
        @AdvisoryLocked(name = "job", permits = 2, scope = LockScope.TRANSACTION)
        public void run() {
        }
    }

    static class HoldAtLeastPermits {
        @AdvisoryLocked(name = "job", permits = 2, holdAtLeast = "5s")
        public void run() {
        }
    }

    static class AsyncPermits {
        @AdvisoryLocked(name = "job", permits = 2)
        public java.util.concurrent.CompletableFuture<String> run() {
            return java.util.concurrent.CompletableFuture.completedFuture("done");
        }
    }
}
