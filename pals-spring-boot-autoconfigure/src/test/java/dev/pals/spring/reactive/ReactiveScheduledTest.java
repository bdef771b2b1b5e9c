package dev.pals.spring.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.LockKey;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.OnContention;
import dev.pals.spring.StarterTestSupport;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.annotation.EnableScheduling;
import org.springframework.scheduling.annotation.Scheduled;
import reactor.core.publisher.Mono;

/** A reactive @Scheduled job, which Spring subscribes to on every tick, is locked for its publisher's life. */
class ReactiveScheduledTest extends StarterTestSupport {

    /** Runs of the job on both instances: how many at once, the most at once, how many in all. */
    public static class Runs {
        final AtomicInteger now = new AtomicInteger();
        final AtomicInteger most = new AtomicInteger();
        final AtomicInteger total = new AtomicInteger();
        /** Whether the lock was in pg_locks on every check made while a run was inside. */
        volatile boolean heldWhileInside = true;
    }

    public static class Job {
        private final Runs runs;
        private final LockRegistry registry;

        Job(Runs runs, LockRegistry registry) {
            this.runs = runs;
            this.registry = registry;
        }

        /** Ticks faster than a run lasts, so that runs of both instances would overlap unlocked. */
        @AdvisoryLocked(name = "reconcile", blocking = false, onContention = OnContention.SKIP)
        @Scheduled(fixedRate = 50)
        public Mono<Void> reconcile() {
            return Mono.fromRunnable(() -> {
                runs.most.accumulateAndGet(runs.now.incrementAndGet(), Math::max);
                runs.total.incrementAndGet();
            }).then(Mono.delay(Duration.ofMillis(300))).then(Mono.fromRunnable(() -> {
                LockKey key = registry.lock("reconcile").key();
                try {
                    runs.heldWhileInside &= DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true) == 1;
                } catch (Exception e) {
                    runs.heldWhileInside = false;
                }
                runs.now.decrementAndGet();
            }));
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableScheduling
    static class Service {
        @Bean
        Job job(Runs runs, LockRegistry registry) {
            return new Job(runs, registry);
        }
    }

    @Test
    void reactiveScheduledJobRunsOnOneInstanceAtATimeForItsPublishersLife() {
        Runs runs = new Runs();
        twoInstances(instance().withBean(Runs.class, () -> runs).withUserConfiguration(Service.class), (one, two) -> {
            await().atMost(Duration.ofSeconds(30)).until(() -> runs.total.get() >= 4);

            assertThat(runs.most).as("runs at once, over both instances").hasValue(1);
            assertThat(runs.heldWhileInside).isTrue();
        });
    }
}
