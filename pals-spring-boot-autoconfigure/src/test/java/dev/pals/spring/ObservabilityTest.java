package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.HeldLock;
import dev.pals.LockInfo;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import dev.pals.spring.autoconfigure.PalsObservabilityAutoConfiguration;
import dev.pals.spring.observability.DefaultLockAcquireConvention;
import dev.pals.spring.observability.LockAcquireContext;
import dev.pals.spring.observability.LockMeters;
import dev.pals.spring.observability.LockObservations;
import io.micrometer.common.KeyValue;
import io.micrometer.common.KeyValues;
import io.micrometer.core.instrument.LongTaskTimer;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Timer;
import io.micrometer.observation.GlobalObservationConvention;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationFilter;
import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.ObservationRegistry;
import java.lang.ref.Reference;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration;
import org.springframework.boot.micrometer.observation.autoconfigure.ObservationRegistryCustomizer;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Metrics and observations of real acquisitions, with Micrometer as Spring Boot sets it up. */
class ObservabilityTest extends StarterTestSupport {

    /** A service with the usual kinds of locked methods. */
    static class Accounts {
        @AdvisoryLocked(name = "'account:' + #id", group = "account", blocking = false)
        public void credit(long id) {
        }

        @AdvisoryLocked(name = "'ledger:' + #id", blocking = false)
        public void post(long id) {
        }

        @AdvisoryLocked(name = "'transfer:' + #id", group = "transfer", timeout = "30s")
        public void transfer(long id) {
        }

        @AdvisoryLocked(name = "'audit:' + #id", group = "audit", timeout = "100ms")
        public void audit(long id) {
        }
    }

    /** Every observation started, as a tracer would see it. */
    static class Spans implements ObservationHandler<Observation.Context> {
        final List<Observation.Context> started = new CopyOnWriteArrayList<>();

        @Override
        public void onStart(Observation.Context context) {
            started.add(context);
        }

        @Override
        public boolean supportsContext(Observation.Context context) {
            return true;
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Accounts accounts() {
            return new Accounts();
        }
    }

    /** A handler registered programmatically, which start-up cannot see. */
    @Configuration(proxyBeanMethods = false)
    static class CustomizedSpans {
        final Spans spans = new Spans();

        @Bean
        ObservationRegistryCustomizer<ObservationRegistry> spansCustomizer() {
            return registry -> registry.observationConfig().observationHandler(spans);
        }
    }

    /** A filter of the service's own, adding a tag to every observation as it stops. */
    static class RegionFilter implements ObservationFilter {
        @Override
        public Observation.Context map(Observation.Context context) {
            return context.addLowCardinalityKeyValue(KeyValue.of("region", "eu"));
        }
    }

    private ApplicationContextRunner observed() {
        return instance().withConfiguration(AutoConfigurations.of(ObservationAutoConfiguration.class,
                        MetricsAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class,
                        SimpleMetricsExportAutoConfiguration.class, PalsObservabilityAutoConfiguration.class))
                .withPropertyValues("pals.loss-check-interval=100ms")
                .withUserConfiguration(Fixture.class);
    }

    @Test
    void acquisitionsAreTimedByOutcomeAndTaggedWithTheGroupNeverTheResolvedName() {
        observed().run(context -> {
            Accounts accounts = context.getBean(Accounts.class);
            accounts.credit(1);
            accounts.credit(2);
            try (HeldLock held = context.getBean(LockRegistry.class).lock("ledger:7").hold()) {
                assertThatThrownBy(() -> accounts.post(7)).isInstanceOf(AcquireFailureException.class);
            }

            MeterRegistry meters = context.getBean(MeterRegistry.class);
            assertThat(acquisitions(meters, "account", "acquired").count()).isEqualTo(2);
            assertThat(acquisitions(meters, "'ledger:' + #id", "contended").count()).isEqualTo(1);
            assertThat(acquisitions(meters, LockInfo.UNGROUPED, "acquired").count()).isEqualTo(1);
            assertThat(meters.get(LockObservations.HELD).tag(LockObservations.GROUP, "account").timer().count())
                    .isEqualTo(2);
            assertThat(meters.getMeters()).flatExtracting(meter -> meter.getId().getTags())
                    .noneMatch(tag -> tag.getValue().contains("account:1") || tag.getValue().contains("ledger:7"));
        });
    }

    @Test
    void aHoldIsGaugedAndItsSectionIsAnActiveLongTaskWhileHeld() {
        observed().run(context -> {
            LockRegistry registry = context.getBean(LockRegistry.class);
            MeterRegistry meters = context.getBean(MeterRegistry.class);
            try (HeldLock held = registry.lock("report", LockOptions.exclusive().withGroup("reports")).hold()) {
                assertThat(meters.get(LockMeters.HELD).gauge().value()).isEqualTo(1);
                assertThat(meters.get(LockMeters.CONNECTIONS).gauge().value()).isEqualTo(1);
                assertThat(activeSections(meters, "reports").activeTasks()).isEqualTo(1);
            }
            assertThat(meters.get(LockMeters.HELD).gauge().value()).isZero();
            assertThat(meters.get(LockMeters.WAITING).gauge().value()).isZero();
            assertThat(activeSections(meters, "reports").activeTasks()).isZero();
        });
    }

    @Test
    void aWaitingCallIsGaugedAndCountedAsAnActiveAcquisitionUntilItGetsTheLock() {
        observed().run(context -> {
            LockRegistry registry = context.getBean(LockRegistry.class);
            MeterRegistry meters = context.getBean(MeterRegistry.class);
            CompletableFuture<Void> call;
            try (HeldLock held = registry.lock("transfer:1").hold()) {
                call = CompletableFuture.runAsync(() -> context.getBean(Accounts.class).transfer(1));
                await().atMost(Duration.ofSeconds(30)).until(() -> meters.get(LockMeters.WAITING).gauge().value() == 1);
                assertThat(meters.get(LockObservations.ACQUIRE + ".active").tag(LockObservations.GROUP, "transfer")
                        .longTaskTimer().activeTasks()).isEqualTo(1);
            }
            call.get(30, TimeUnit.SECONDS);
            assertThat(meters.get(LockMeters.WAITING).gauge().value()).isZero();
            assertThat(acquisitions(meters, "transfer", "acquired").count()).isEqualTo(1);
        });
    }

    @Test
    void aWaitThatRunsOutIsTimedAsTimedOut() {
        observed().run(context -> {
            try (HeldLock held = context.getBean(LockRegistry.class).lock("audit:1").hold()) {
                assertThatThrownBy(() -> context.getBean(Accounts.class).audit(1))
                        .isInstanceOf(AcquireFailureException.class);
            }
            assertThat(acquisitions(context.getBean(MeterRegistry.class), "audit", "timed_out").count()).isEqualTo(1);
        });
    }

    @Test
    void anInterruptedWaitIsTimedAsFailedWithItsError() {
        observed().run(context -> {
            try (HeldLock held = context.getBean(LockRegistry.class).lock("transfer:2").hold()) {
                Thread.currentThread().interrupt();
                assertThatThrownBy(() -> context.getBean(Accounts.class).transfer(2))
                        .isInstanceOf(AcquireFailureException.class);
                assertThat(Thread.interrupted()).isTrue();
            }
            assertThat(context.getBean(MeterRegistry.class).get(LockObservations.ACQUIRE)
                    .tag(LockObservations.GROUP, "transfer").tag(LockObservations.OUTCOME, "failed")
                    .tag("error", "InterruptedException").timer().count()).isEqualTo(1);
        });
    }

    @Test
    void aLostLockIsCounted() {
        observed().run(context -> {
            LockRegistry registry = context.getBean(LockRegistry.class);
            AdvisoryLock fragile = registry.lock("fragile", LockOptions.exclusive().withGroup("jobs"));
            assertThat(fragile.tryAcquire()).isTrue();
            DB.terminateSessions(namespace + "-locks@%");
            MeterRegistry meters = context.getBean(MeterRegistry.class);
            await().atMost(Duration.ofSeconds(30)).until(() -> meters.find(LockMeters.LOST).counter() != null);
            assertThat(meters.get(LockMeters.LOST).tag(LockObservations.GROUP, "jobs").counter().count()).isEqualTo(1);
            assertThat(meters.get(LockObservations.HELD).tag("error", "LockLostException").timer().count())
                    .isEqualTo(1);
            // a handle collected before the loss is noticed has nobody to tell, so this one must stay reachable
            Reference.reachabilityFence(fragile);
        });
    }

    @Test
    void springBootsSwitchTurnsTheObservationsOffAndKeepsTheGauges() {
        observed().withUserConfiguration(CustomizedSpans.class)
                .withPropertyValues("management.observations.enable.pals=false").run(context -> {
            context.getBean(Accounts.class).credit(4);
            MeterRegistry meters = context.getBean(MeterRegistry.class);
            assertThat(meters.find(LockObservations.ACQUIRE).meters()).isEmpty();
            assertThat(context.getBean(CustomizedSpans.class).spans.started).isEmpty();
            assertThat(meters.get(LockMeters.HELD).gauge().value()).isZero();
        });
    }

    @Test
    void theWaitAndTheSectionAreSpansOfTheCallersObservation() {
        observed().withBean(Spans.class).run(context -> {
            ObservationRegistry observations = context.getBean(ObservationRegistry.class);
            Accounts accounts = context.getBean(Accounts.class);
            Observation request = Observation.createNotStarted("request", observations);
            request.observe(() -> accounts.credit(3));

            List<Observation.Context> started = context.getBean(Spans.class).started;
            assertThat(started).extracting(Observation.Context::getName)
                    .containsExactly("request", LockObservations.ACQUIRE, LockObservations.HELD);
            for (Observation.Context span : started.subList(1, 3)) {
                assertThat(span.getParentObservation()).isSameAs(request);
                assertThat(span.getHighCardinalityKeyValue(LockObservations.NAME).getValue()).isEqualTo("account:3");
            }
            assertThat(started.get(1).getContextualName()).isEqualTo("try lock account");
            assertThat(started.get(2).getContextualName()).isEqualTo("hold lock account");
        });
    }

    @Test
    void theMetersKeepTheirNamesAndTags() {
        observed().run(context -> {
            context.getBean(Accounts.class).credit(5);
            MeterRegistry meters = context.getBean(MeterRegistry.class);
            List<String> lock = List.of(LockObservations.GROUP, LockObservations.MODE, LockObservations.SCOPE);
            assertThat(tagKeys(meters.get(LockObservations.ACQUIRE).tag(LockObservations.OUTCOME, "acquired").timer()))
                    .containsExactlyInAnyOrder("error", LockObservations.GROUP, LockObservations.MODE,
                            LockObservations.SCOPE, LockObservations.OUTCOME);
            assertThat(tagKeys(meters.get(LockObservations.ACQUIRE + ".active").longTaskTimer()))
                    .containsExactlyInAnyOrderElementsOf(lock);
            assertThat(tagKeys(meters.get(LockObservations.HELD).timer()))
                    .containsExactlyInAnyOrder("error", LockObservations.GROUP, LockObservations.MODE, LockObservations.SCOPE);
            assertThat(tagKeys(meters.get(LockObservations.HELD + ".active").longTaskTimer()))
                    .containsExactlyInAnyOrderElementsOf(lock);
            Timer acquired = acquisitions(meters, "account", "acquired");
            assertThat(acquired.getId().getTag(LockObservations.MODE)).isEqualTo("exclusive");
            assertThat(acquired.getId().getTag(LockObservations.SCOPE)).isEqualTo("session");
            assertThat(acquired.getId().getTag("error")).isEqualTo("none");
        });
    }

    @Test
    void everyOutcomesTimerOfAGroupIsThereFromTheGroupsFirstCallOn() {
        observed().run(context -> {
            MeterRegistry meters = context.getBean(MeterRegistry.class);
            assertThat(meters.find(LockObservations.ACQUIRE).tag(LockObservations.GROUP, "account").timers()).isEmpty();
            context.getBean(Accounts.class).credit(6);
            for (String outcome : List.of("contended", "timed_out", "failed")) {
                assertThat(acquisitions(meters, "account", outcome).count()).isZero();
            }
            assertThat(acquisitions(meters, "account", "acquired").count()).isEqualTo(1);
        });
    }

    @Test
    void aConventionOfTheServiceRenamesAndRetagsTheLockMeters() {
        observed().withBean(RenamingConvention.class).run(context -> {
            context.getBean(Accounts.class).credit(7);
            MeterRegistry meters = context.getBean(MeterRegistry.class);
            assertThat(meters.get("payments.lock.wait").tag("team", "payments").tag(LockObservations.GROUP, "account")
                    .tag(LockObservations.OUTCOME, "acquired").timer().count()).isEqualTo(1);
            assertThat(meters.get("payments.lock.wait.active").tag("team", "payments").longTaskTimer()).isNotNull();
            assertThat(meters.find(LockObservations.ACQUIRE).meters()).isEmpty();
            // the other observation keeps the default convention
            assertThat(meters.get(LockObservations.HELD).tag(LockObservations.GROUP, "account").timer().count())
                    .isEqualTo(1);
        });
    }

    @Test
    void otherObservationsKeepSpringBootsMeterHandler() {
        observed().run(context -> {
            Observation.createNotStarted("checkout", context.getBean(ObservationRegistry.class))
                    .lowCardinalityKeyValue("step", "pay").observe(() -> context.getBean(Accounts.class).credit(8));
            MeterRegistry meters = context.getBean(MeterRegistry.class);
            assertThat(meters.get("checkout").tag("step", "pay").tag("error", "none").timer().count()).isEqualTo(1);
            assertThat(acquisitions(meters, "account", "acquired").count()).isEqualTo(1);
        });
    }

    @Test
    void springBootsIgnoredLongTaskTimersAreLeftOutOfTheLockMetersToo() {
        for (String path : List.of("auto", "observations")) {
            observed().withPropertyValues("management.metrics.observations.ignored-meters=long-task-timer",
                    "pals.observations=" + path).run(context -> {
                context.getBean(Accounts.class).credit(9);
                MeterRegistry meters = context.getBean(MeterRegistry.class);
                assertThat(acquisitions(meters, "account", "acquired").count()).isEqualTo(1);
                assertThat(meters.find(LockObservations.ACQUIRE + ".active").meters()).isEmpty();
                assertThat(meters.find(LockObservations.HELD + ".active").meters()).isEmpty();
            });
        }
    }

    @Test
    void withOnlyMetersListeningTheLocksAreTimedWithoutObservations() {
        observed().withUserConfiguration(CustomizedSpans.class).run(context -> {
            context.getBean(Accounts.class).credit(10);
            assertThat(context.getBean(CustomizedSpans.class).spans.started).isEmpty();
            assertThat(acquisitions(context.getBean(MeterRegistry.class), "account", "acquired").count()).isEqualTo(1);
        });
    }

    @Test
    void thePropertyForcesObservationsForAHandlerRegisteredByACustomizer() {
        observed().withUserConfiguration(CustomizedSpans.class).withPropertyValues("pals.observations=observations")
                .run(context -> {
                    context.getBean(Accounts.class).credit(11);
                    assertThat(context.getBean(CustomizedSpans.class).spans.started).extracting(Observation.Context::getName)
                            .containsExactly(LockObservations.ACQUIRE, LockObservations.HELD);
                    assertThat(acquisitions(context.getBean(MeterRegistry.class), "account", "acquired").count())
                            .isEqualTo(1);
                });
    }

    @Test
    void aHandlerBeanOtherThanAMeterHandlerSeesEveryLockObservation() {
        observed().withBean(Spans.class).run(context -> {
            context.getBean(Accounts.class).credit(12);
            assertThat(context.getBean(Spans.class).started).extracting(Observation.Context::getName)
                    .containsExactly(LockObservations.ACQUIRE, LockObservations.HELD);
        });
    }

    @Test
    void aFilterOfTheServiceKeepsTheObservationsSoItsTagsReachTheLockTimers() {
        observed().withBean(RegionFilter.class).run(context -> {
            context.getBean(Accounts.class).credit(13);
            assertThat(context.getBean(MeterRegistry.class).get(LockObservations.ACQUIRE).tag("region", "eu")
                    .tag(LockObservations.OUTCOME, "acquired").timer().count()).isEqualTo(1);
        });
    }

    @Test
    void commonKeyValuesKeepTheObservationsSoTheyTagTheLockTimers() {
        observed().withPropertyValues("management.observations.key-values.region=eu").run(context -> {
            context.getBean(Accounts.class).credit(14);
            assertThat(context.getBean(MeterRegistry.class).get(LockObservations.HELD).tag("region", "eu").timer()
                    .count()).isEqualTo(1);
        });
    }

    @Test
    void theMetersAloneAreTheObservationsMetersForTheSameCalls() {
        Map<String, Map<String, Double>> byPath = new LinkedHashMap<>();
        for (String path : List.of("auto", "observations")) {
            observed().withPropertyValues("pals.observations=" + path).run(context -> {
                Accounts accounts = context.getBean(Accounts.class);
                LockRegistry registry = context.getBean(LockRegistry.class);
                accounts.credit(1);
                accounts.credit(2);
                accounts.post(3);
                accounts.transfer(4);
                try (HeldLock ledger = registry.lock("ledger:7").hold();
                        HeldLock audit = registry.lock("audit:1").hold();
                        HeldLock transfer = registry.lock("transfer:2").hold()) {
                    assertThatThrownBy(() -> accounts.post(7)).isInstanceOf(AcquireFailureException.class);
                    assertThatThrownBy(() -> accounts.audit(1)).isInstanceOf(AcquireFailureException.class);
                    Thread.currentThread().interrupt();
                    assertThatThrownBy(() -> accounts.transfer(2)).isInstanceOf(AcquireFailureException.class);
                    assertThat(Thread.interrupted()).isTrue();
                    try (HeldLock report = registry.lock("report", LockOptions.shared().withGroup("reports")).hold()) {
                        byPath.put(path, lockMeters(context.getBean(MeterRegistry.class)));
                    }
                }
            });
        }
        assertThat(byPath.get("auto")).containsKey(LockObservations.ACQUIRE
                + "[error=InterruptedException, pals.lock.group=transfer, pals.lock.mode=exclusive, "
                + "pals.lock.outcome=failed, pals.lock.scope=session]");
        assertThat(byPath.get("auto")).isEqualTo(byPath.get("observations"));
    }

    /** A service's own names and tags for acquisitions, the way Spring Boot applies conventions. */
    static class RenamingConvention extends DefaultLockAcquireConvention
            implements GlobalObservationConvention<LockAcquireContext> {

        @Override
        public String getName() {
            return "payments.lock.wait";
        }

        @Override
        public KeyValues getLowCardinalityKeyValues(LockAcquireContext context) {
            return super.getLowCardinalityKeyValues(context).and("team", "payments");
        }
    }

    /** Every lock meter by its name and sorted tags: a timer's count, a long task timer's active tasks. */
    private static Map<String, Double> lockMeters(MeterRegistry meters) {
        Map<String, Double> found = new TreeMap<>();
        for (Meter meter : meters.find(LockObservations.ACQUIRE).meters()) {
            found.put(id(meter), (double) ((Timer) meter).count());
        }
        for (Meter meter : meters.find(LockObservations.HELD).meters()) {
            found.put(id(meter), (double) ((Timer) meter).count());
        }
        for (String active : List.of(LockObservations.ACQUIRE + ".active", LockObservations.HELD + ".active")) {
            for (Meter meter : meters.find(active).meters()) {
                found.put(id(meter), (double) ((LongTaskTimer) meter).activeTasks());
            }
        }
        return found;
    }

    private static String id(Meter meter) {
        return meter.getId().getName() + meter.getId().getTags().stream().map(tag -> tag.getKey() + "=" + tag.getValue())
                .sorted().toList();
    }

    private static List<String> tagKeys(Meter meter) {
        return meter.getId().getTags().stream().map(Tag::getKey).toList();
    }

    private static Timer acquisitions(MeterRegistry meters, String group, String outcome) {
        return meters.get(LockObservations.ACQUIRE).tag(LockObservations.GROUP, group)
                .tag(LockObservations.OUTCOME, outcome).timer();
    }

    private static LongTaskTimer activeSections(MeterRegistry meters, String group) {
        return meters.get(LockObservations.HELD + ".active").tag(LockObservations.GROUP, group).longTaskTimer();
    }
}
