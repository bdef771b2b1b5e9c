package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.pals.AdvisoryLock;
import dev.pals.HeldLock;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import dev.pals.spring.actuate.AdvisoryLocksEndpoint;
import dev.pals.spring.actuate.AdvisoryLocksEndpoint.AdvisoryLocksDescriptor;
import dev.pals.spring.actuate.AdvisoryLocksEndpoint.ClusterLockDescriptor;
import dev.pals.spring.autoconfigure.LockConnectionPool;
import dev.pals.spring.autoconfigure.PalsActuatorAutoConfiguration;
import dev.pals.testing.TcpRelay;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.transaction.annotation.Transactional;

/** The advisorylocks endpoint and the health contributor, against a real server. */
class ActuatorTest extends StarterTestSupport {

    /** A service whose constant lock name the endpoint can put on keys it finds in pg_locks. */
    static class Reports {
        @AdvisoryLocked(name = "nightly-report", blocking = false)
        public void nightly() {
        }
    }

    /** A service whose lock lives in its transaction. */
    static class Ledger {
        @Transactional
        @AdvisoryLocked(name = "'ledger:' + #id", group = "ledger", scope = LockScope.TRANSACTION)
        public void post(long id, Runnable inTransaction) {
            inTransaction.run();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Reports reports() {
            return new Reports();
        }

        @Bean
        Ledger ledger() {
            return new Ledger();
        }
    }

    private ApplicationContextRunner withActuator(ApplicationContextRunner runner) {
        return runner.withConfiguration(AutoConfigurations.of(PalsActuatorAutoConfiguration.class))
                .withPropertyValues("management.endpoints.web.exposure.include=advisorylocks",
                        "pals.loss-check-interval=100ms")
                .withUserConfiguration(Fixture.class);
    }

    @Test
    void theEndpointShowsThisInstancesLocksAndTheClusterWithKeysNamedWhereItCan() {
        ApplicationContextRunner service = withActuator(instance());
        twoInstances(service, (one, two) -> {
            LockRegistry mine = one.getBean(LockRegistry.class);
            LockRegistry theirs = two.getBean(LockRegistry.class);
            Instant before = Instant.now();
            try (HeldLock own = mine.lock("account:5", LockOptions.exclusive().withGroup("account")).hold();
                    HeldLock report = theirs.lock("nightly-report").hold()) {
                assertThat(row(endpoint(one), "nightly-report", "held").thisInstance())
                        .as("named from the constant of an @AdvisoryLocked method, not from a lock of its own").isFalse();
                AdvisoryLock waiter = mine.lock("nightly-report");
                CompletableFuture<Boolean> waiting = waiter.acquireAsync(Duration.ofSeconds(30));
                await().atMost(Duration.ofSeconds(30)).until(() -> mine.waitingLocks() == 1
                        && endpoint(one).cluster().locks().stream().anyMatch(lock -> lock.state().equals("waiting")));

                AdvisoryLocksDescriptor locks = endpoint(one);

                assertThat(locks.namespace()).isEqualTo(namespace);
                assertThat(locks.instance().held()).singleElement().satisfies(held -> {
                    assertThat(held.name()).isEqualTo("account:5");
                    assertThat(held.group()).isEqualTo("account");
                    assertThat(held.mode()).isEqualTo("exclusive");
                    assertThat(held.scope()).isEqualTo("session");
                    assertThat(held.owner()).isEqualTo(Thread.currentThread().getName());
                    assertThat(held.since()).isAfterOrEqualTo(before);
                    assertThat(held.backendPid()).isNotNull();
                });
                assertThat(locks.instance().waiting()).singleElement()
                        .satisfies(wait -> assertThat(wait.name()).isEqualTo("nightly-report"));

                String theirName = two.getBean(LockConnectionPool.class).getApplicationName();
                ClusterLockDescriptor theirHold = row(locks, "nightly-report", "held");
                assertThat(theirHold.thisInstance()).isFalse();
                assertThat(theirHold.applicationName()).isEqualTo(theirName);
                assertThat(theirHold.key()).isEqualTo(theirs.lock("nightly-report").key().toString());
                assertThat(theirHold.sessionStart()).isNotNull();
                assertThat(theirHold.heldSince()).as("known only to the instance that holds it").isNull();

                ClusterLockDescriptor myWait = row(locks, "nightly-report", "waiting");
                assertThat(myWait.thisInstance()).isTrue();
                assertThat(myWait.waitingSince()).isNotNull();

                ClusterLockDescriptor myHold = row(locks, "account:5", "held");
                assertThat(myHold.thisInstance()).isTrue();
                assertThat(myHold.backendPid()).isEqualTo(locks.instance().held().get(0).backendPid());
                assertThat(myHold.heldSince()).isEqualTo(locks.instance().held().get(0).since());
                assertThat(endpoint(two).cluster().locks()).filteredOn(lock -> lock.key().equals(myHold.key()))
                        .singleElement().satisfies(lock -> assertThat(lock.name())
                                .as("a name only the other instance knows stays a key").isNull());

                report.close();
                assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
                waiter.release();
            }
        });
    }

    @Test
    void theEndpointIsNotThereUnlessExposed() {
        instance().withConfiguration(AutoConfigurations.of(PalsActuatorAutoConfiguration.class))
                .run(context -> assertThat(context).doesNotHaveBean(AdvisoryLocksEndpoint.class));
    }

    @Test
    void aTransactionScopedLockShowsUntilItsTransactionEnds() {
        withActuator(instance()).run(context -> {
            LockRegistry registry = context.getBean(LockRegistry.class);
            Ledger ledger = context.getBean(Ledger.class);
            ledger.post(9, () -> {
                AdvisoryLocksDescriptor locks = endpoint(context);
                assertThat(locks.instance().held()).singleElement().satisfies(held -> {
                    assertThat(held.name()).isEqualTo("ledger:9");
                    assertThat(held.scope()).isEqualTo("transaction");
                    assertThat(held.group()).isEqualTo("ledger");
                    assertThat(held.backendPid()).isNotNull();
                });
                ClusterLockDescriptor row = row(locks, "ledger:9", "held");
                assertThat(row.thisInstance()).isTrue();
                assertThat(row.transactionStart()).isNotNull();
                assertThat(registry.heldLocks()).isEqualTo(1);
            });
            assertThat(registry.heldLocks()).isZero();
            assertThatThrownBy(() -> ledger.post(9, () -> {
                assertThat(registry.heldLocks()).isEqualTo(1);
                throw new IllegalStateException("rolled back");
            })).hasMessage("rolled back");
            assertThat(registry.heldLocks()).isZero();
            assertThat(endpoint(context).instance().held()).isEmpty();
        });
    }

    @Test
    void healthIsUpWithSessionAffinityKept() {
        withActuator(instance()).run(context -> {
            Health up = context.getBean("advisoryLocksHealthIndicator", HealthIndicator.class).health();
            assertThat(up.getStatus()).isEqualTo(Status.UP);
            assertThat(up.getDetails()).containsEntry("sessionAffinity", "kept").containsEntry("reachable", true)
                    .containsEntry("lostInLast15Minutes", 0).containsEntry("heldLocks", 0);
        });
    }

    @Test
    void healthAndTheEndpointShowTheLeaseBoundsTheServerConfirmed() {
        withActuator(instance()).run(context -> {
            LockRegistry registry = context.getBean(LockRegistry.class);
            // 100 ms between checks (as every instance here) plus the default 2 s network timeout
            AdvisoryLock lock = registry.lock("lease");
            assertThat(lock.tryAcquire()).isTrue();
            try {
                Health health = context.getBean("advisoryLocksHealthIndicator", HealthIndicator.class).health();
                assertThat(health.getDetails().get("lease")).isEqualTo(Map.of("lossDetection", "PT2.1S",
                        "silentClientTimeout", "PT20S", "serverRelease", "PT20S", "serverSettings",
                        "tcp_keepalives_idle=10s, tcp_keepalives_interval=2s, tcp_keepalives_count=5, "
                                + "tcp_user_timeout=20000ms", "safe", true));
                assertThat(endpoint(context).instance().lease()).isEqualTo(health.getDetails().get("lease"));
            } finally {
                lock.release();
            }
        });
    }

    @Test
    void healthGoesDownWhenTheLockServerIsGoneAndNamesTheLostLock() {
        try (TcpRelay relay = TcpRelay.to(DB.url())) {
            withActuator(instance()).withPropertyValues("pals.datasource.url=" + relay.jdbcUrl(),
                    "pals.datasource.hikari.connection-timeout=500").run(context -> {
                        HealthIndicator health = context.getBean("advisoryLocksHealthIndicator", HealthIndicator.class);
                        assertThat(context.getBean(LockRegistry.class).lock("job").tryAcquire()).isTrue();
                        assertThat(health.health().getStatus()).isEqualTo(Status.UP);

                        relay.close();

                        await().atMost(Duration.ofSeconds(30))
                                .until(() -> health.health().getDetails().get("lostInLast15Minutes").equals(1));
                        Health down = health.health();
                        assertThat(down.getStatus()).isEqualTo(Status.DOWN);
                        assertThat(down.getDetails()).containsEntry("reachable", false).containsKey("error");
                        assertThat(down.getDetails().get("lastLoss")).asInstanceOf(InstanceOfAssertFactories.MAP)
                                .containsEntry("lock", "job").containsKeys("at", "cause");
                    });
        }
    }

    private static AdvisoryLocksDescriptor endpoint(ApplicationContext context) {
        return context.getBean(AdvisoryLocksEndpoint.class).advisoryLocks();
    }

    private static ClusterLockDescriptor row(AdvisoryLocksDescriptor locks, String name, String state) {
        return locks.cluster().locks().stream().filter(lock -> name.equals(lock.name()) && lock.state().equals(state))
                .findFirst().orElseThrow(() -> new AssertionError("no " + state + " row for '" + name + "' in "
                        + locks.cluster()));
    }
}
