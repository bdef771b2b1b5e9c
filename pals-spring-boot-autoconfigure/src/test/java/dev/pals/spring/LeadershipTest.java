package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.LeaderElection;
import dev.pals.spring.leader.Leadership;
import dev.pals.spring.leader.LeadershipGrantedEvent;
import dev.pals.spring.leader.LeadershipRevokedEvent;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.event.EventListener;

/** Leader election as a service configures it: one property, events, and a bean to ask. */
class LeadershipTest extends StarterTestSupport {

    private static final Duration RETRY_INTERVAL = Duration.ofMillis(200);
    /** The promise, the retry interval plus one round, with slack for a slow machine. */
    private static final Duration HAND_OVER = RETRY_INTERVAL.plus(LeaderElection.CHECK_INTERVAL).plusSeconds(2);

    /** Both instances' events, in the order they happened: each is told revoked before it lets go of the lock. */
    private final Queue<Seen> log = new ConcurrentLinkedQueue<>();

    /** One event of one instance, and when it came. */
    record Seen(String event, long nanos) {
    }

    /** Logs the events of the instance {@code id}. */
    record Listener(String id, Queue<Seen> log) {
        @EventListener
        void granted(LeadershipGrantedEvent event) {
            log.add(new Seen(id + " granted " + event.getLeadership().getName(), System.nanoTime()));
        }

        @EventListener
        void revoked(LeadershipRevokedEvent event) {
            log.add(new Seen(id + " revoked", System.nanoTime()));
        }
    }

    private ApplicationContextRunner service(String id) {
        return instance().withPropertyValues("pals.leader.name=scheduler",
                "pals.leader.retry-interval=" + RETRY_INTERVAL.toMillis() + "ms")
                .withBean(Listener.class, () -> new Listener(id, log));
    }

    @Test
    void oneOfTwoInstancesLeadsAndTheOtherTakesOverWithinItsRetryIntervalWhenItStops() {
        service("one").run(one -> {
            await().atMost(Duration.ofSeconds(30)).until(() -> !log.isEmpty());
            service("two").run(two -> {
                Leadership follower = two.getBean(Leadership.class);
                // each of these retry rounds would take the lock if the leader's did not exclude it
                await().during(RETRY_INTERVAL.multipliedBy(5)).atMost(RETRY_INTERVAL.multipliedBy(5).plusSeconds(2))
                        .until(() -> !follower.isLeader());
                assertThat(log).map(Seen::event).containsExactly("one granted scheduler");

                one.getSourceApplicationContext().stop();

                await().atMost(Duration.ofSeconds(30)).until(() -> log.size() >= 3);
                assertThat(log).map(Seen::event)
                        .containsExactly("one granted scheduler", "one revoked", "two granted scheduler");
                assertThat(follower.isLeader()).isTrue();
                List<Seen> events = List.copyOf(log);
                assertThat(Duration.ofNanos(events.get(2).nanos() - events.get(1).nanos())).isLessThan(HAND_OVER);
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
