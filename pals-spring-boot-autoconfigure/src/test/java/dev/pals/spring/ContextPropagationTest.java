package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pals.AdvisoryLock;
import dev.pals.LockInfo;
import dev.pals.LockObserver;
import dev.pals.LockRegistry;
import dev.pals.spring.autoconfigure.PalsObservabilityAutoConfiguration;
import dev.pals.spring.observability.LockObservations;
import io.micrometer.context.ContextRegistry;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.ObservationRegistry;
import io.micrometer.observation.tck.TestObservationRegistry;
import io.micrometer.observation.tck.TestObservationRegistryAssert;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * The caller's current observation, and MDC entries a service registers an accessor for, go with
 * the work the auto-configured registry does for it on its own threads, so that the spans of an
 * asynchronous acquisition, and what a delayed release does, belong to the caller's trace.
 */
class ContextPropagationTest extends StarterTestSupport {

    /** The observation current on the thread that stops each lock section, by the section's lock name. */
    static class CurrentAtStop implements ObservationHandler<Observation.Context> {
        private final ObservationRegistry registry;
        final List<@Nullable Observation> current = new CopyOnWriteArrayList<>();

        CurrentAtStop(ObservationRegistry registry) {
            this.registry = registry;
        }

        @Override
        public void onStop(Observation.Context context) {
            if (context.getName().equals(LockObservations.HELD)) {
                current.add(registry.getCurrentObservation());
            }
        }

        @Override
        public boolean supportsContext(Observation.Context context) {
            return true;
        }
    }

    /** The MDC's tenant on the thread where each acquisition begins. */
    static class TenantAtAcquisition implements LockObserver {
        final List<@Nullable String> tenants = new CopyOnWriteArrayList<>();

        @Override
        public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
            tenants.add(MDC.get("tenant"));
            return Acquisition.NONE;
        }
    }

    private ApplicationContextRunner traced(TestObservationRegistry observations) {
        return instance().withConfiguration(AutoConfigurations.of(PalsObservabilityAutoConfiguration.class))
                .withBean(ObservationRegistry.class, () -> observations);
    }

    @Test
    void anAsyncAcquisitionsSpansHaveTheCallersObservationAsParent() {
        TestObservationRegistry observations = TestObservationRegistry.create();
        traced(observations).run(context -> {
            AdvisoryLock lock = context.getBean(LockRegistry.class).lock("report");
            Observation request = Observation.start("request", observations);
            try (Observation.Scope scope = request.openScope()) {
                assertThat(lock.acquireAsync(Duration.ofSeconds(30)).get(30, TimeUnit.SECONDS)).isTrue();
            }
            lock.release();
            request.stop();

            TestObservationRegistryAssert.assertThat(observations)
                    .hasObservationWithNameEqualTo(LockObservations.ACQUIRE).that()
                    .hasParentObservationEqualTo(request).hasBeenStopped();
            TestObservationRegistryAssert.assertThat(observations)
                    .hasObservationWithNameEqualTo(LockObservations.HELD).that()
                    .hasParentObservationEqualTo(request).hasBeenStopped();
        });
    }

    @Test
    void aDelayedReleaseEndsTheSectionWithTheCallersObservationCurrent() {
        TestObservationRegistry observations = TestObservationRegistry.create();
        CurrentAtStop stops = new CurrentAtStop(observations);
        observations.observationConfig().observationHandler(stops);
        traced(observations).run(context -> {
            AdvisoryLock lock = context.getBean(LockRegistry.class).lock("nightly");
            Observation job = Observation.start("job", observations);
            try (Observation.Scope scope = job.openScope()) {
                assertThat(lock.tryAcquire()).isTrue();
                assertThat(lock.releaseAfter(Duration.ofMillis(50)).get(30, TimeUnit.SECONDS)).isTrue();
            }
            job.stop();

            assertThat(stops.current).containsExactly(job);
        });
    }

    @Test
    void anMdcEntryWithARegisteredAccessorIsTheRegistryThreadsWhileItAcquires() {
        ContextRegistry accessors = ContextRegistry.getInstance();
        accessors.registerThreadLocalAccessor("tenant", () -> MDC.get("tenant"), tenant -> MDC.put("tenant", tenant),
                () -> MDC.remove("tenant"));
        try {
            instance().withBean(TenantAtAcquisition.class).run(context -> {
                AdvisoryLock lock = context.getBean(LockRegistry.class).lock("invoices");
                try (MDC.MDCCloseable tenant = MDC.putCloseable("tenant", "acme")) {
                    assertThat(lock.acquireAsync(Duration.ofSeconds(30)).get(30, TimeUnit.SECONDS)).isTrue();
                }
                assertThat(lock.release()).isTrue();

                assertThat(context.getBean(TenantAtAcquisition.class).tenants).containsExactly("acme");
            });
        } finally {
            accessors.removeThreadLocalAccessor("tenant");
        }
    }
}
