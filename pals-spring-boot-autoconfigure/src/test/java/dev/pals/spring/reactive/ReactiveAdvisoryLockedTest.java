package dev.pals.spring.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.LockKey;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.StarterTestSupport;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** @AdvisoryLocked on methods returning a reactive type: the lock lives as long as the publisher. */
class ReactiveAdvisoryLockedTest extends StarterTestSupport {

    /** Reactive methods as a WebFlux service writes them; the work runs after the call returned. */
    public static class Reports {
        final AtomicInteger running = new AtomicInteger();

        /** Read through the proxy, which has no state of its own. */
        public AtomicInteger running() {
            return running;
        }

        @AdvisoryLocked(name = "report", blocking = false)
        public Mono<String> report(Mono<String> work) {
            return Mono.fromRunnable(running::incrementAndGet).then(work).doFinally(signal -> running.decrementAndGet());
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Service {
        @Bean
        Reports reports() {
            return new Reports();
        }
    }

    private ApplicationContextRunner service() {
        return instance().withUserConfiguration(Service.class);
    }

    private static boolean held(AssertableApplicationContext context, String name) throws Exception {
        LockKey key = context.getBean(LockRegistry.class).lock(name).key();
        return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true) == 1;
    }

    @Test
    void lockedMonoHoldsItsLockWhileItsWorkRunsAfterTheCallReturned() {
        twoInstances(service(), (one, two) -> {
            Sinks.One<String> work = Sinks.one();
            Disposable running = one.getBean(Reports.class).report(work.asMono()).subscribe();

            await().atMost(Duration.ofSeconds(10)).until(() -> one.getBean(Reports.class).running().get() == 1);
            assertThat(held(one, "report")).isTrue();

            work.tryEmitValue("done");
            await().atMost(Duration.ofSeconds(10)).until(() -> !held(one, "report"));
            running.dispose();
        });
    }
}
