package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.pals.AdvisoryLock;
import dev.pals.LockException;
import dev.pals.LockKey;
import dev.pals.LockLostException;
import dev.pals.LockRegistry;
import dev.pals.spring.aop.AdvisoryLocks;
import dev.pals.testing.TcpRelay;
import java.lang.ref.Reference;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.EventListener;

/** A lost lock is loud: an event, an exception to the caller, and a check inside the section. */
class LockLossTest extends StarterTestSupport {

    private static final Duration LOSS_CHECK_INTERVAL = Duration.ofMillis(200);
    private static final Duration NETWORK_TIMEOUT = Duration.ofSeconds(1);
    /** The promise, one loss check and its statement's timeout, with slack for a slow machine. */
    private static final Duration LOSS_NOTICED = LOSS_CHECK_INTERVAL.plus(NETWORK_TIMEOUT).plusSeconds(2);
    private static final Duration CONNECTION_TIMEOUT = Duration.ofMillis(500);

    private final ExecutorService executor = Executors.newCachedThreadPool();

    @AfterEach
    void stopExecutor() {
        executor.shutdownNow();
    }

    @Test
    void lossIsPublishedAsAnEvent() {
        lossy().run(context -> {
            AdvisoryLock job = context.getBean(LockRegistry.class).lock("job");
            assertThat(job.tryAcquire()).isTrue();

            terminateLockConnections();

            Losses losses = context.getBean(Losses.class);
            await().atMost(LOSS_NOTICED).until(() -> !losses.names.isEmpty());
            assertThat(losses.names).containsExactly("job");
            // a handle collected before the loss is noticed has nobody to tell, so this one must stay reachable
            Reference.reachabilityFence(job);
        });
    }

    @Test
    void lockedMethodWhoseLockWasLostThrowsLockLostToItsCallerAfterReturning() {
        lossy().run(context -> {
            Section section = context.getBean(Section.class);
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch lost = new CountDownLatch(1);
            Future<String> call = executor.submit(() -> section.work(entered, lost, false));
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();

            terminateLockConnections();
            await().atMost(LOSS_NOTICED).until(() -> !context.getBean(Losses.class).names.isEmpty());
            lost.countDown();

            assertThatThrownBy(() -> call.get(30, TimeUnit.SECONDS)).cause().isInstanceOf(LockLostException.class)
                    .hasMessageContaining("'section'");
        });
    }

    @Test
    void assertHeldInsideTheSectionThrowsOnceTheLockIsLost() {
        lossy().run(context -> {
            Section section = context.getBean(Section.class);
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch lost = new CountDownLatch(1);
            Future<String> call = executor.submit(() -> section.work(entered, lost, true));
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();

            terminateLockConnections();
            await().atMost(LOSS_NOTICED).until(() -> !context.getBean(Losses.class).names.isEmpty());
            lost.countDown();

            // the release's report of the loss reaches the caller, with the check's own attached
            assertThatThrownBy(() -> call.get(30, TimeUnit.SECONDS)).cause().isInstanceOf(LockLostException.class)
                    .satisfies(loss -> assertThat(loss.getSuppressed()).anySatisfy(check ->
                            assertThat(check).hasMessageContaining("no longer held")));
            assertThat(section.stepsAfterCheck()).isZero();
        });
    }

    @Test
    void withInterruptOnLossTheRunningMethodIsInterruptedAndItsCallerStillLearnsOfTheLoss() {
        lossy().withPropertyValues("pals.interrupt-on-loss=true").run(context -> {
            Section section = context.getBean(Section.class);
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch never = new CountDownLatch(1);
            Future<String> call = executor.submit(() -> section.work(entered, never, false));
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();

            terminateLockConnections();

            assertThatThrownBy(() -> call.get(LOSS_NOTICED.toMillis(), TimeUnit.MILLISECONDS)).cause()
                    .isInstanceOf(LockLostException.class).satisfies(lost -> assertThat(lost.getSuppressed())
                            .hasAtLeastOneElementOfType(InterruptedException.class));
        });
    }

    @Test
    void assertHeldPassesWhileHeldAndRefusesOutsideALockedMethod() {
        lossy().run(context -> {
            CountDownLatch open = new CountDownLatch(0);
            assertThat(context.getBean(Section.class).work(new CountDownLatch(1), open, true)).isEqualTo("done");
            assertThatThrownBy(AdvisoryLocks::assertHeld).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("outside any @AdvisoryLocked method");
        });
    }

    @Test
    void unreachableLockDatabaseDoesNotStopStartUpAndEachAcquisitionSaysWhatIsWrong() {
        instance().withPropertyValues("pals.datasource.url=jdbc:postgresql://127.0.0.1:1/nowhere",
                "pals.datasource.hikari.connection-timeout=500").run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThatThrownBy(() -> context.getBean(LockRegistry.class).lock("x").tryAcquire())
                            .isInstanceOf(LockException.class)
                            .hasMessageContaining("no connection to the lock database could be opened")
                            .hasMessageContaining("nothing is held");
                });
    }

    @Test
    void silentLockDatabaseFailsAnAcquisitionWithinTheConnectionTimeoutHoldingNothing() {
        // the relay takes the TCP connection but never answers, so only the connection timeout ends the attempt
        try (TcpRelay relay = TcpRelay.to(DB.url())) {
            relay.blackHole();
            instance().withPropertyValues("pals.datasource.url=" + relay.jdbcUrl(),
                    "pals.datasource.hikari.connection-timeout=" + CONNECTION_TIMEOUT.toMillis()).run(context -> {
                        assertThat(context).hasNotFailed();
                        LockRegistry registry = context.getBean(LockRegistry.class);
                        AdvisoryLock lock = registry.lock("x");
                        long start = System.nanoTime();

                        assertThatThrownBy(lock::tryAcquire).isInstanceOf(LockException.class)
                                .hasMessageContaining("no connection to the lock database could be opened")
                                .hasMessageContaining("nothing is held");
                        assertThat(Duration.ofNanos(System.nanoTime() - start))
                                .isGreaterThanOrEqualTo(CONNECTION_TIMEOUT)
                                .isLessThan(CONNECTION_TIMEOUT.plusSeconds(3));
                        assertThat(registry.heldLocks()).isZero();
                        LockKey key = lock.key();
                        assertThat(DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true)).isZero();
                    });
        }
    }

    private ApplicationContextRunner lossy() {
        return instance().withPropertyValues("pals.loss-check-interval=" + LOSS_CHECK_INTERVAL.toMillis() + "ms",
                "pals.network-timeout=" + NETWORK_TIMEOUT.toMillis() + "ms").withUserConfiguration(Fixture.class);
    }

    private void terminateLockConnections() throws Exception {
        DB.terminateSessions(namespace + "-locks@%");
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Losses losses() {
            return new Losses();
        }

        @Bean
        Section section() {
            return new Section();
        }
    }

    static class Losses {
        final List<String> names = new CopyOnWriteArrayList<>();

        @EventListener
        void lost(LockLostEvent event) {
            names.add(event.getLock().name());
        }
    }

    static class Section {
        private volatile int stepsAfterCheck;

        @AdvisoryLocked("section")
        public String work(CountDownLatch entered, CountDownLatch proceed, boolean check) throws InterruptedException {
            entered.countDown();
            proceed.await(60, TimeUnit.SECONDS);
            if (check) {
                AdvisoryLocks.assertHeld();
                stepsAfterCheck++;
            }
            return "done";
        }

        public int stepsAfterCheck() {
            return stepsAfterCheck;
        }
    }
}
