package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.spring.leader.Leadership;
import dev.pals.spring.leader.LeadershipGrantedEvent;
import dev.pals.spring.leader.LeadershipRevokedEvent;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.EventListener;

/** Leader election as a service configures it: one property, events, and a bean to ask. */
class LeadershipTest extends StarterTestSupport {

    /** The events one instance saw. */
    static class Seen {
        final List<String> events = new CopyOnWriteArrayList<>();

        @EventListener
        void granted(LeadershipGrantedEvent event) {
            events.add("granted " + event.getLeadership().getName());
        }

        @EventListener
        void revoked(LeadershipRevokedEvent event) {
            events.add("revoked");
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Seen seen() {
            return new Seen();
        }
    }

    private ApplicationContextRunner service() {
        return instance().withPropertyValues("pals.leader.name=scheduler", "pals.leader.retry-interval=100ms")
                .withUserConfiguration(Fixture.class);
    }

    @Test
    void oneOfTwoInstancesLeadsAndTheOtherTakesOverWhenItStops() {
        ApplicationContextRunner service = service();
        service.run(one -> {
            await().atMost(Duration.ofSeconds(30)).until(() -> one.getBean(Leadership.class).isLeader());
            service.run(two -> {
                assertThat(two.getBean(Leadership.class).isLeader()).isFalse();

                ((ConfigurableApplicationContext) one.getSourceApplicationContext()).stop();

                assertThat(one.getBean(Seen.class).events).containsExactly("granted scheduler", "revoked");
                await().atMost(Duration.ofSeconds(30)).until(() -> two.getBean(Leadership.class).isLeader());
                assertThat(two.getBean(Seen.class).events).containsExactly("granted scheduler");
            });
        });
    }

    @Test
    void noElectionRunsUnlessTheServiceNamesItsLock() {
        instance().run(context -> assertThat(context).doesNotHaveBean(Leadership.class));
    }

    @Test
    void aBlankLeaderNameFailsStartUpNamingTheProperty() {
        instance().withPropertyValues("pals.leader.name= ").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).hasStackTraceContaining("pals.leader.name");
        });
    }
}
