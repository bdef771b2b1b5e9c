package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import dev.pals.LockKey;
import dev.pals.LockRegistry;
import dev.pals.spring.LockedServices.Api;
import dev.pals.spring.LockedServices.ClassLocked;
import dev.pals.spring.LockedServices.Jobs;
import dev.pals.spring.LockedServices.MetaLocked;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;

/** Two instances of one service, each with its own lock pool, competing through @AdvisoryLocked. */
class AdvisoryLockedTest extends StarterTestSupport {

    private final ExecutorService executor = Executors.newCachedThreadPool();

    @AfterEach
    void stopExecutor() {
        executor.shutdownNow();
    }

    @Test
    void nonBlockingCallThrowsAcquireFailureAndDoesNotRunWhileTheOtherInstanceHolds() {
        twoInstances((one, two) -> {
            CountDownLatch release = holdIn(one, "job");
            Jobs jobs = two.getBean(Jobs.class);

            assertThatThrownBy(() -> jobs.tryRun("job")).isInstanceOfSatisfying(AcquireFailureException.class, e -> {
                assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED);
                assertThat(e.lockName()).isEqualTo("job");
            }).hasMessageContaining("tryRun");
            assertThat(jobs.runs()).isZero();
            release.countDown();
        });
    }

    @Test
    void blockingCallWaitsAndRunsAfterTheOtherInstanceReturns() throws Exception {
        twoInstances((one, two) -> {
            CountDownLatch release = holdIn(one, "job");
            Jobs jobs = two.getBean(Jobs.class);
            Future<Long> entered = background(() -> jobs.waitRun("job"));
            LockKey key = two.getBean(LockRegistry.class).lock("job").key();
            // queued in the server behind the holder: waiting there, not running and not polling
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), false) == 1);
            assertThat(entered).isNotDone();
            assertThat(jobs.runs()).isZero();

            long released = System.nanoTime();
            release.countDown();

            assertThat(entered.get(30, TimeUnit.SECONDS)).isGreaterThan(released);
        });
    }

    @Test
    void blockingCallThatTimesOutThrowsTimedOut() {
        twoInstances((one, two) -> {
            CountDownLatch release = holdIn(one, "job");

            assertThatThrownBy(() -> two.getBean(Jobs.class).waitBriefly("job"))
                    .isInstanceOfSatisfying(AcquireFailureException.class,
                            e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.TIMED_OUT));
            release.countDown();
        });
    }

    @Test
    void skipModeReturnsNothingEmptyOrNullWithoutRunningTheMethod() {
        twoInstances((one, two) -> {
            CountDownLatch release = holdIn(one, "job");
            Jobs jobs = two.getBean(Jobs.class);

            jobs.skipVoid("job");
            assertThat(jobs.skipOptional("job")).isEmpty();
            assertThat(jobs.skipOther("job")).isNull();
            assertThat(jobs.runs()).isZero();

            release.countDown();
            // the holder releases on its own thread once the latch opens
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(jobs.skipOptional("job")).contains("ran"));
        });
    }

    @Test
    void sharedReadersOfTwoInstancesRunTogether() throws Exception {
        twoInstances((one, two) -> {
            CountDownLatch bothInside = new CountDownLatch(2);
            Future<Boolean> first = background(() -> one.getBean(Jobs.class).readTogether("doc", bothInside));
            Future<Boolean> second = background(() -> two.getBean(Jobs.class).readTogether("doc", bothInside));

            assertThat(first.get(60, TimeUnit.SECONDS)).isTrue();
            assertThat(second.get(60, TimeUnit.SECONDS)).isTrue();
        });
    }

    @Test
    void asyncMethodHoldsTheLockUntilItsResultCompletes() {
        twoInstances((one, two) -> {
            CompletableFuture<String> pending = new CompletableFuture<>();
            CompletableFuture<String> returned = one.getBean(Jobs.class).async("report", pending);
            Jobs other = two.getBean(Jobs.class);

            assertThatThrownBy(() -> other.tryRun("report")).isInstanceOf(AcquireFailureException.class);
            pending.complete("done");

            assertThat(returned).isCompletedWithValue("done");
            assertThat(other.tryRun("report")).isEqualTo("ran");
        });
    }

    @Test
    void asyncMethodReleasesWhenItsResultIsCancelled() {
        twoInstances((one, two) -> {
            CompletableFuture<String> pending = new CompletableFuture<>();
            one.getBean(Jobs.class).async("report", pending);

            pending.cancel(true);

            assertThat(two.getBean(Jobs.class).tryRun("report")).isEqualTo("ran");
        });
    }

    @Test
    void nameTemplateLocksEachAccountSeparately() throws Exception {
        twoInstances((one, two) -> {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Future<String> first = background(() -> one.getBean(Jobs.class).account(1, entered, release));
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
            Jobs other = two.getBean(Jobs.class);
            CountDownLatch open = new CountDownLatch(0);

            assertThat(other.account(2, new CountDownLatch(1), open)).isEqualTo("account 2");
            assertThatThrownBy(() -> other.account(1, new CountDownLatch(1), open))
                    .isInstanceOfSatisfying(AcquireFailureException.class,
                            e -> assertThat(e.lockName()).isEqualTo("account:1"));
            release.countDown();
            assertThat(first.get(30, TimeUnit.SECONDS)).isEqualTo("account 1");
        });
    }

    @Test
    void nestedCallOnTheSameNameInOneCallChainPassesThrough() {
        instance().withUserConfiguration(LockedServices.Fixture.class).run(context ->
                assertThat(context.getBean(Jobs.class).outer("nested")).isEqualTo("inner ran"));
    }

    @Test
    void nestedExclusiveCallInsideASharedOneIsRefusedRatherThanWaitingForItself() {
        instance().withUserConfiguration(LockedServices.Fixture.class).run(context ->
                assertThatThrownBy(() -> context.getBean(Jobs.class).sharedOuter("nested"))
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("holds it shared"));
    }

    @Test
    void annotationOnAClassLocksEachPublicMethod() {
        twoInstances((one, two) -> {
            CountDownLatch release = holdUsing((entered, exit) -> one.getBean(ClassLocked.class).first(entered, exit));

            assertThatThrownBy(() -> two.getBean(ClassLocked.class).second()).isInstanceOf(AcquireFailureException.class);
            release.countDown();
        });
    }

    @Test
    void annotationOnAClassLeavesToStringEqualsAndHashCodeUnlocked() {
        twoInstances((one, two) -> {
            CountDownLatch release = holdUsing((entered, exit) -> one.getBean(ClassLocked.class).first(entered, exit));

            assertThat(two.getBean(ClassLocked.class).toString()).isEqualTo("class-locked");
            release.countDown();
        });
    }

    @Test
    void annotationOnAClassLeavesItsPublicStaticMethodsAloneInsteadOfFailingStartUp() {
        twoInstances((one, two) -> {
            assertThat(two).hasNotFailed();
            CountDownLatch release = holdUsing((entered, exit) -> one.getBean(ClassLocked.class).first(entered, exit));

            // the static method runs as it is, and the class's lock still covers its instance methods
            assertThat(ClassLocked.create()).hasToString("class-locked");
            assertThatThrownBy(() -> two.getBean(ClassLocked.class).second()).isInstanceOf(AcquireFailureException.class);
            release.countDown();
        });
    }

    @Test
    void metaAnnotationLocksLikeTheAnnotation() {
        twoInstances((one, two) -> {
            CountDownLatch release = holdUsing((entered, exit) -> one.getBean(MetaLocked.class).run(entered, exit));

            assertThatThrownBy(() -> two.getBean(MetaLocked.class).tryRun()).isInstanceOf(AcquireFailureException.class);
            release.countDown();
        });
    }

    @Test
    void annotationOnAnInterfaceMethodLocksItsImplementation() {
        twoInstances((one, two) -> {
            CountDownLatch release = holdUsing((entered, exit) -> one.getBean(Api.class).call(entered, exit));

            assertThatThrownBy(() -> two.getBean(Api.class).tryCall()).isInstanceOf(AcquireFailureException.class);
            release.countDown();
        });
    }

    @Test
    void lockIsReleasedWhenTheMethodThrows() {
        twoInstances((one, two) -> {
            Jobs jobs = one.getBean(Jobs.class);
            assertThatThrownBy(() -> jobs.fail("boom")).isInstanceOf(IllegalStateException.class).hasMessage("boom");

            assertThat(two.getBean(Jobs.class).tryRun("boom")).isEqualTo("ran");
        });
    }

    /** Runs the service twice, as two instances with their own pools, against the shared server. */
    private void twoInstances(TwoInstances body) {
        twoInstances(instance().withUserConfiguration(LockedServices.Fixture.class), body);
    }

    /** Holds {@code name} in {@code instance} on another thread until the returned latch opens. */
    private CountDownLatch holdIn(AssertableApplicationContext instance, String name) throws InterruptedException {
        return holdUsing((entered, release) -> {
            instance.getBean(Jobs.class).holdWhile(name, entered, release);
            return null;
        });
    }

    /** Runs a locked call on another thread; returns, once it is inside, the latch that lets it finish. */
    private CountDownLatch holdUsing(HoldingCall call) throws InterruptedException {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        background(() -> call.run(entered, release));
        assertThat(entered.await(30, TimeUnit.SECONDS)).as("the holding call took the lock").isTrue();
        return release;
    }

    @FunctionalInterface
    interface HoldingCall {
        Object run(CountDownLatch entered, CountDownLatch release) throws Exception;
    }

    private <T> Future<T> background(Callable<T> task) {
        return executor.submit(task);
    }
}
