package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.pals.LockLostException;
import dev.pals.spring.autoconfigure.LockConnectionPool;
import dev.pals.spring.autoconfigure.PalsIntegrationAutoConfiguration;
import dev.pals.spring.integration.AdvisoryLockRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.integration.leader.DefaultCandidate;
import org.springframework.integration.support.leader.LockRegistryLeaderInitiator;
import org.springframework.integration.support.locks.LockRegistry;

/** Spring Integration's lock registry contract, and its leader initiator, on advisory locks. */
class SpringIntegrationTest extends StarterTestSupport {

    private static final Duration HEARTBEAT = Duration.ofMillis(100);

    private ApplicationContextRunner service() {
        return instance().withConfiguration(AutoConfigurations.of(PalsIntegrationAutoConfiguration.class))
                .withPropertyValues("pals.loss-check-interval=100ms");
    }

    @Test
    void theRegistryIsSpringIntegrationsLockRegistry() {
        service().run(context -> assertThat(context.getBean(LockRegistry.class))
                .isInstanceOf(AdvisoryLockRegistry.class));
    }

    @Test
    void aLockExcludesAnotherInstanceAndIsReentrantForItsThread() {
        twoInstances(service(), (one, two) -> {
            Lock mine = one.getBean(LockRegistry.class).obtain("orders");
            Lock theirs = two.getBean(LockRegistry.class).obtain("orders");
            assertThat(one.getBean(LockRegistry.class).obtain("orders")).isSameAs(mine);

            assertThat(mine.tryLock()).isTrue();
            assertThat(mine.tryLock()).as("re-entry").isTrue();
            assertThat(theirs.tryLock(100, TimeUnit.MILLISECONDS)).isFalse();
            assertThat(CompletableFuture.supplyAsync(mine::tryLock).get(30, TimeUnit.SECONDS))
                    .as("another thread of the same instance").isFalse();
            mine.unlock();
            assertThat(theirs.tryLock()).as("still held once").isFalse();
            mine.unlock();
            assertThat(theirs.tryLock()).isTrue();
            theirs.unlock();
        });
    }

    @Test
    void executeLockedRunsUnderTheLock() {
        service().run(context -> {
            LockRegistry<?> locks = context.getBean(LockRegistry.class);
            String result = locks.executeLocked("report", () -> {
                assertThat(CompletableFuture.supplyAsync(() -> locks.obtain("report").tryLock()).get(30, TimeUnit.SECONDS))
                        .as("taken while the task runs").isFalse();
                return "done";
            });
            assertThat(result).isEqualTo("done");
        });
    }

    @Test
    void springIntegrationsLeaderInitiatorElectsOneLeader() {
        twoInstances(service(), (one, two) -> {
            Queue<Seen> log = new ConcurrentLinkedQueue<>();
            LockRegistryLeaderInitiator first = initiator(one.getBean(LockRegistry.class));
            LockRegistryLeaderInitiator second = initiator(two.getBean(LockRegistry.class));
            first.setApplicationEventPublisher(event -> log.add(new Seen("one " + event.getClass().getSimpleName())));
            second.setApplicationEventPublisher(event -> log.add(new Seen("two " + event.getClass().getSimpleName())));
            try {
                first.start();
                await().atMost(Duration.ofSeconds(30)).until(() -> first.getContext().isLeader());
                second.start();
                // each of these heartbeats tries the lock, and would take it if the leader's did not exclude it
                await().during(HEARTBEAT.multipliedBy(10)).atMost(HEARTBEAT.multipliedBy(10).plusSeconds(2))
                        .until(() -> !second.getContext().isLeader());
                assertThat(log).map(Seen::event).containsExactly("one OnGrantedEvent");

                long stopped = System.nanoTime();
                first.stop();

                await().atMost(Duration.ofSeconds(30)).until(() -> log.size() >= 3);
                // Spring Integration unlocks before it publishes revoked, so those two may come in either order
                assertThat(log).map(Seen::event).startsWith("one OnGrantedEvent")
                        .containsExactlyInAnyOrder("one OnGrantedEvent", "one OnRevokedEvent", "two OnGrantedEvent");
                assertThat(second.getContext().isLeader()).isTrue();
                Seen granted = log.stream().filter(seen -> seen.event().equals("two OnGrantedEvent")).findFirst()
                        .orElseThrow();
                // the follower's next try after the leader let go: a heartbeat, with slack for a slow machine
                assertThat(Duration.ofNanos(granted.nanos() - stopped)).isLessThan(HEARTBEAT.plusSeconds(2));
            } finally {
                first.stop();
                second.stop();
            }
        });
    }

    @Test
    void aLeaderWhoseLockIsLostIsRevokedAndLeadsAgainOnceItCan() {
        service().run(context -> {
            List<String> events = new CopyOnWriteArrayList<>();
            LockRegistryLeaderInitiator initiator = initiator(context.getBean(LockRegistry.class));
            initiator.setApplicationEventPublisher(event -> events.add(event.getClass().getSimpleName()));
            try {
                initiator.start();
                await().atMost(Duration.ofSeconds(30)).until(() -> initiator.getContext().isLeader());

                DB.terminateSessions(context.getBean(LockConnectionPool.class).getApplicationName());

                await().atMost(Duration.ofSeconds(30))
                        .until(() -> events.equals(List.of("OnGrantedEvent", "OnRevokedEvent", "OnGrantedEvent")));
                assertThat(initiator.getContext().isLeader()).isTrue();
            } finally {
                initiator.stop();
            }
        });
    }

    @Test
    void unlockingALockLostWhileHeldThrowsTheLoss() {
        service().run(context -> {
            Lock lock = context.getBean(LockRegistry.class).obtain("fragile");
            lock.lock();
            DB.terminateSessions(context.getBean(LockConnectionPool.class).getApplicationName());
            dev.pals.LockRegistry registry = context.getBean(dev.pals.LockRegistry.class);
            await().atMost(Duration.ofSeconds(30)).until(() -> registry.heldLocks() == 0);

            assertThatThrownBy(lock::unlock).isInstanceOf(LockLostException.class);
            assertThat(lock.tryLock()).as("free to take again").isTrue();
            lock.unlock();
        });
    }

    @Test
    void unusedLocksExpire() {
        service().run(context -> {
            AdvisoryLockRegistry locks = context.getBean(AdvisoryLockRegistry.class);
            Lock used = locks.obtain("per-message-key");
            assertThat(used.tryLock()).isTrue();
            locks.expireUnusedOlderThan(0);
            assertThat(locks.obtain("per-message-key")).as("held, so kept").isSameAs(used);
            used.unlock();
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                locks.expireUnusedOlderThan(0);
                return locks.obtain("per-message-key") != used;
            });
        });
    }

    /** One leader event of one instance, and when it came. */
    record Seen(String event, long nanos) {
        Seen(String event) {
            this(event, System.nanoTime());
        }
    }

    private static LockRegistryLeaderInitiator initiator(LockRegistry<?> locks) {
        LockRegistryLeaderInitiator initiator = new LockRegistryLeaderInitiator(locks,
                new DefaultCandidate("node", "cluster-role"));
        initiator.setHeartBeatMillis(HEARTBEAT.toMillis());
        initiator.setBusyWaitMillis(50);
        return initiator;
    }
}
