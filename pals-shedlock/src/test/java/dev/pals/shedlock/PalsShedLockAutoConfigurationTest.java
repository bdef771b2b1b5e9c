package dev.pals.shedlock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.LockInfo;
import dev.pals.LockObserver;
import dev.pals.spring.autoconfigure.PalsAutoConfiguration;
import dev.pals.testing.TestDatabase;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import net.javacrumbs.shedlock.core.LockAssert;
import net.javacrumbs.shedlock.core.LockConfiguration;
import net.javacrumbs.shedlock.core.LockProvider;
import net.javacrumbs.shedlock.core.SimpleLock;
import net.javacrumbs.shedlock.spring.annotation.EnableSchedulerLock;
import net.javacrumbs.shedlock.spring.annotation.SchedulerLock;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.annotation.EnableScheduling;
import org.springframework.scheduling.annotation.Scheduled;

/**
 * A Spring Boot service with the PALs starter and ShedLock: the provider is this module's, on the
 * service's registry, unless the service has one of its own; and two instances of a service whose
 * {@code @Scheduled} job is {@code @SchedulerLock}ed run it one at a time.
 */
class PalsShedLockAutoConfigurationTest {

    private static final TestDatabase DB = TestDatabase.get();

    private final ApplicationContextRunner service = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(DataSourceAutoConfiguration.class, PalsAutoConfiguration.class,
                    PalsShedLockAutoConfiguration.class))
            .withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=1s",
                    "spring.datasource.url=" + DB.url(), "spring.datasource.username=" + DB.user(),
                    "spring.datasource.password=" + DB.password(),
                    "spring.application.name=" + TestDatabase.uniqueName("shed-svc-"));

    @Test
    void providerIsAdvisoryLocksOnTheServicesRegistry() {
        service.run(context -> {
            assertThat(context).hasSingleBean(LockProvider.class);
            assertThat(context.getBean(LockProvider.class)).isInstanceOf(AdvisoryLockProvider.class);
        });
    }

    @Test
    void servicesOwnProviderIsKept() {
        service.withBean("ownProvider", LockProvider.class, () -> configuration -> Optional.empty())
                .run(context -> assertThat(context).getBean(LockProvider.class)
                        .isNotInstanceOf(AdvisoryLockProvider.class));
    }

    @Test
    void noProviderWithoutALockRegistry() {
        service.withPropertyValues("pals.enabled=false")
                .run(context -> assertThat(context).doesNotHaveBean(LockProvider.class));
    }

    @Test
    void noProviderWithoutShedLock() {
        service.withClassLoader(new FilteredClassLoader(LockProvider.class))
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(AdvisoryLockProvider.class));
    }

    @Test
    void twoInstancesLockTheSameNames() {
        service.run(one -> service.run(two -> {
            LockConfiguration configuration = new LockConfiguration(java.time.Instant.now(), "report",
                    Duration.ofMinutes(1), Duration.ZERO);
            SimpleLock held = one.getBean(LockProvider.class).lock(configuration).orElseThrow();

            assertThat(two.getBean(LockProvider.class).lock(configuration)).isEmpty();
            held.unlock();
            assertThat(two.getBean(LockProvider.class).lock(configuration)).isPresent();
        }));
    }

    @Test
    void twoInstancesRunAScheduledJobOneAtATime() {
        Job.reset();
        ApplicationContextRunner scheduled = service.withUserConfiguration(ScheduledJob.class);

        scheduled.run(one -> scheduled.run(two -> await().atMost(Duration.ofSeconds(15))
                .until(() -> one.getBean(Job.class).runs() >= 2 && two.getBean(Job.class).runs() >= 2)));

        assertThat(Job.mostAtOnce.get()).isEqualTo(1);
        assertThat(Job.unlockedRuns.get()).isZero();
    }

    @Configuration(proxyBeanMethods = false)
    @EnableScheduling
    @EnableSchedulerLock(defaultLockAtMostFor = "PT10S")
    static class ScheduledJob {

        @Bean
        Job job() {
            return new Job();
        }

        /** Counts the runs the lock refused, in both instances. */
        @Bean
        LockObserver skips() {
            return new LockObserver() {
                @Override
                public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
                    return (outcome, failure) -> {
                        if (outcome == Outcome.CONTENDED && lock.name().equals("nightly-report")) {
                            Job.skipped.incrementAndGet();
                        }
                    };
                }
            };
        }
    }

    /** A job that takes a while; both instances count into the same statics, as one cluster. */
    static class Job {
        static final AtomicInteger running = new AtomicInteger();
        static final AtomicInteger mostAtOnce = new AtomicInteger();
        static final AtomicInteger unlockedRuns = new AtomicInteger();
        static final AtomicInteger skipped = new AtomicInteger();
        private final AtomicInteger runs = new AtomicInteger();

        static void reset() {
            running.set(0);
            mostAtOnce.set(0);
            unlockedRuns.set(0);
            skipped.set(0);
        }

        /** A method, not the field: the bean is ShedLock's proxy, whose own fields are unset. */
        public int runs() {
            return runs.get();
        }

        @Scheduled(fixedDelay = 20)
        @SchedulerLock(name = "nightly-report")
        public void run() {
            int skippedBefore = skipped.get();
            mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
            try {
                try {
                    LockAssert.assertLocked();
                } catch (IllegalStateException e) {
                    unlockedRuns.incrementAndGet();
                }
                // the job's work lasts until the other instance's schedule fired meanwhile and was refused
                // (this instance's next run waits for this one): the overlap the lock must exclude
                await().atMost(Duration.ofSeconds(10)).until(() -> skipped.get() > skippedBefore);
            } finally {
                running.decrementAndGet();
                runs.incrementAndGet();
            }
        }
    }
}
