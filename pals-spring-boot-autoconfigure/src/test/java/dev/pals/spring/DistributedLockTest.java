package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.pals.LockKey;
import dev.pals.spring.autoconfigure.PalsIntegrationAutoConfiguration;
import dev.pals.spring.integration.AdvisoryLockRegistry;
import java.time.Duration;
import java.util.ConcurrentModificationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.core.ResolvableType;
import org.springframework.integration.support.locks.DistributedLock;
import org.springframework.integration.support.locks.ExpirableLockRegistry;
import org.springframework.integration.support.locks.LockRegistry;
import org.springframework.integration.support.locks.RenewableLockRegistry;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;

/** Spring Integration 7's DistributedLock and RenewableLockRegistry on advisory locks, across two instances. */
@ExtendWith(OutputCaptureExtension.class)
class DistributedLockTest extends StarterTestSupport {

    private static final Duration LONG = Duration.ofSeconds(30);

    private ApplicationContextRunner service() {
        return instance().withConfiguration(AutoConfigurations.of(PalsIntegrationAutoConfiguration.class));
    }

    private static AdvisoryLockRegistry locks(AssertableApplicationContext context) {
        return context.getBean(AdvisoryLockRegistry.class);
    }

    private static dev.pals.LockRegistry pals(AssertableApplicationContext context) {
        return context.getBean(dev.pals.LockRegistry.class);
    }

    @Test
    void aLockWithATtlIsReleasedAtItsTtlAndTheOtherInstanceThenGetsIt(CapturedOutput output) {
        twoInstances(service(), (one, two) -> {
            DistributedLock mine = locks(one).obtain("ttl-job");
            DistributedLock theirs = locks(two).obtain("ttl-job");
            long start = System.nanoTime();
            mine.lock(Duration.ofMillis(500));

            assertThat(theirs.tryLock(LONG, LONG)).isTrue();
            Duration waited = Duration.ofNanos(System.nanoTime() - start);
            assertThat(waited).isBetween(Duration.ofMillis(450), Duration.ofSeconds(5));
            assertThat(output).contains("Lock 'ttl-job' outlived its ttl of PT0.5S: thread '"
                    + Thread.currentThread().getName() + "' has held it for PT0.");
            theirs.unlock();
        });
    }

    @Test
    void unlockAfterTheTtlThrowsConcurrentModificationExceptionAndTheThreadHoldsItNoMore() {
        service().run(context -> {
            DistributedLock lock = locks(context).obtain("expired");
            lock.lock(Duration.ofMillis(200));
            await().atMost(LONG).until(() -> pals(context).heldLocks() == 0);

            assertThat(lock.tryLock()).as("re-entry into an expired hold").isFalse();
            assertThatThrownBy(lock::lock).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("released at its ttl");
            assertThatThrownBy(lock::unlock).isInstanceOf(ConcurrentModificationException.class)
                    .hasMessageContaining("'expired' was released at its ttl of PT0.2S");
            assertThatThrownBy(lock::unlock).as("not held any more").isInstanceOf(IllegalMonitorStateException.class);
            assertThat(lock.tryLock()).as("free to take again").isTrue();
            lock.unlock();
        });
    }

    @Test
    void tryLockWithATtlWaitsInTheServerAndTimesOut() {
        twoInstances(service(), (one, two) -> {
            DistributedLock theirs = locks(two).obtain("waited");
            DistributedLock mine = locks(one).obtain("waited");
            LockKey key = pals(one).lock("waited").key();
            theirs.lock();

            long start = System.nanoTime();
            assertThat(mine.tryLock(Duration.ofMillis(300), LONG)).isFalse();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(300));

            CompletableFuture<Boolean> waiting = CompletableFuture.supplyAsync(() -> {
                try {
                    boolean acquired = mine.tryLock(LONG, LONG);
                    mine.unlock();
                    return acquired;
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            await().atMost(LONG).until(() -> DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), false) == 1);
            theirs.unlock();
            assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        });
    }

    @Test
    void renewLockWithATtlBoundsTheHoldFromNow() {
        twoInstances(service(), (one, two) -> {
            DistributedLock mine = locks(one).obtain("renewed");
            DistributedLock theirs = locks(two).obtain("renewed");
            mine.lock(Duration.ofMillis(300));
            locks(one).renewLock("renewed", Duration.ofSeconds(2));

            await().during(Duration.ofMillis(1200)).atMost(Duration.ofSeconds(3)).until(() -> !theirs.tryLock());
            assertThat(theirs.tryLock(LONG, LONG)).as("released at the renewed ttl").isTrue();
            theirs.unlock();
        });
    }

    @Test
    void renewLockWithoutATtlStartsTheHoldsOwnTtlOver() {
        twoInstances(service(), (one, two) -> {
            DistributedLock mine = locks(one).obtain("renewed-again");
            DistributedLock theirs = locks(two).obtain("renewed-again");
            long start = System.nanoTime();
            mine.lock(Duration.ofMillis(800));
            await().pollDelay(Duration.ofMillis(500)).atMost(LONG).until(() -> true);
            locks(one).renewLock("renewed-again");

            assertThat(theirs.tryLock(LONG, LONG)).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("500 ms, then the ttl again")
                    .isGreaterThanOrEqualTo(Duration.ofMillis(1250));
            theirs.unlock();
        });
    }

    @Test
    void renewLockOfALockTheCallerDoesNotHoldThrowsIllegalMonitorState() {
        service().run(context -> {
            AdvisoryLockRegistry locks = locks(context);
            assertThatThrownBy(() -> locks.renewLock("never-obtained")).isInstanceOf(IllegalMonitorStateException.class);
            DistributedLock lock = locks.obtain("held-elsewhere");
            lock.lock(LONG);
            Throwable fromAnotherThread = CompletableFuture.supplyAsync(() -> {
                try {
                    locks.renewLock("held-elsewhere", LONG);
                    return null;
                } catch (RuntimeException e) {
                    return e;
                }
            }).get(30, TimeUnit.SECONDS);
            assertThat(fromAnotherThread).isInstanceOf(IllegalMonitorStateException.class);
            lock.unlock();
            assertThatThrownBy(() -> locks.renewLock("held-elsewhere")).as("after the unlock")
                    .isInstanceOf(IllegalMonitorStateException.class);
        });
    }

    @Test
    void renewLockAfterTheTtlPassedThrowsIllegalState() {
        service().run(context -> {
            DistributedLock lock = locks(context).obtain("too-late");
            lock.lock(Duration.ofMillis(200));
            await().atMost(LONG).until(() -> pals(context).heldLocks() == 0);

            assertThatThrownBy(() -> locks(context).renewLock("too-late")).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("released at its ttl");
            assertThatThrownBy(lock::unlock).isInstanceOf(ConcurrentModificationException.class);
        });
    }

    @Test
    void reentryIsCountedAndAReentryWithATtlStartsTheBoundOver() {
        twoInstances(service(), (one, two) -> {
            DistributedLock mine = locks(one).obtain("nested");
            DistributedLock theirs = locks(two).obtain("nested");
            mine.lock(Duration.ofMillis(300));
            assertThat(mine.tryLock(Duration.ZERO, Duration.ofSeconds(2))).as("re-entry").isTrue();

            await().during(Duration.ofMillis(800)).atMost(Duration.ofSeconds(2)).until(() -> !theirs.tryLock());
            mine.unlock();
            assertThat(theirs.tryLock()).as("still held once").isFalse();
            mine.unlock();
            assertThat(theirs.tryLock()).isTrue();
            theirs.unlock();
        });
    }

    @Test
    void theOwnersUnlockAndTheTtlReleaseOnceBetweenThem() {
        twoInstances(service(), (one, two) -> {
            DistributedLock mine = locks(one).obtain("raced");
            DistributedLock theirs = locks(two).obtain("raced");
            int expired = 0;
            for (int i = 0; i < 30; i++) {
                mine.lock(Duration.ofMillis(5));
                // work of 0 to 9 ms, around the ttl, so that either release may come first
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(i % 10);
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
                try {
                    mine.unlock();
                } catch (ConcurrentModificationException e) {
                    // the ttl came first: it released, and the owner's unlock only reports it
                    expired++;
                }
                mine.lock();
                // a second release of the hold before would release this one
                await().during(Duration.ofMillis(30)).pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(2))
                        .until(() -> !theirs.tryLock());
                mine.unlock();
            }
            assertThat(expired).as("expired holds").isBetween(1, 29);
            assertThat(pals(one).heldLocks()).isZero();
            assertThat(theirs.tryLock()).isTrue();
            theirs.unlock();
        });
    }

    @Test
    void withARenewalSchedulerATtlNoLongerBoundsTheHold() {
        twoInstances(service(), (one, two) -> {
            locks(one).setRenewalTaskScheduler(new ThreadPoolTaskScheduler());
            DistributedLock mine = locks(one).obtain("renewed-automatically");
            DistributedLock theirs = locks(two).obtain("renewed-automatically");
            mine.lock(Duration.ofMillis(100));

            await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(2)).until(() -> !theirs.tryLock());
            mine.unlock();
            assertThat(theirs.tryLock()).isTrue();
            theirs.unlock();
        });
    }

    @Test
    void theRegistryIsInjectedWhereALockRegistryOfLockIsDeclaredAsBeforeSpringIntegration7() {
        service().run(context -> {
            assertThat(context.getBeanProvider(ResolvableType.forClassWithGenerics(LockRegistry.class, Lock.class))
                    .getIfAvailable()).isInstanceOf(AdvisoryLockRegistry.class);
            assertThat(context.getBeanProvider(
                    ResolvableType.forClassWithGenerics(ExpirableLockRegistry.class, Lock.class)).getIfAvailable())
                    .isInstanceOf(AdvisoryLockRegistry.class);
            assertThat(context.getBeanProvider(ResolvableType.forClassWithGenerics(RenewableLockRegistry.class,
                    DistributedLock.class)).getIfAvailable()).as("declared as JdbcLockRegistry 7 is: not this one")
                    .isNull();
        });
    }

    @Test
    void aTtlAfterTheRegistryClosedIsRefusedAndLeavesNothingHeld() {
        service().run(context -> {
            AdvisoryLockRegistry locks = locks(context);
            DistributedLock lock = locks.obtain("after-close");
            locks.close();

            assertThatThrownBy(() -> lock.lock(LONG)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
            assertThat(pals(context).heldLocks()).isZero();
            assertThat(lock.tryLock()).as("taken afresh, not re-entered").isTrue();
            lock.unlock();
        });
    }

    @Test
    void aTtlBoundsTheHoldOnTheInMemoryRegistryToo() {
        bareRunner().withPropertyValues("pals.in-memory=true", "spring.application.name=" + namespace)
                .withConfiguration(AutoConfigurations.of(PalsIntegrationAutoConfiguration.class)).run(context -> {
                    DistributedLock lock = locks(context).obtain("in-memory");
                    lock.lock(Duration.ofMillis(200));
                    await().atMost(LONG).until(() -> pals(context).heldLocks() == 0);
                    assertThatThrownBy(lock::unlock).isInstanceOf(ConcurrentModificationException.class);
                });
    }

    @Test
    void aTtlMustBePositive() {
        service().run(context -> {
            DistributedLock lock = locks(context).obtain("zero");
            assertThatThrownBy(() -> lock.lock(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> lock.tryLock(Duration.ZERO, Duration.ofMillis(-1)))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThat(pals(context).heldLocks()).isZero();
        });
    }
}
