package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisorySemaphore;
import dev.pals.LockRegistry;
import dev.pals.spring.autoconfigure.PalsObservabilityAutoConfiguration;
import dev.pals.spring.observability.LockMeters;
import dev.pals.spring.observability.LockObservations;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** {@code @AdvisoryLocked(permits = N)} in the metrics: one acquisition per call, of the semaphore. */
class PermitObservabilityTest extends StarterTestSupport {

    static class Exports {
        @AdvisoryLocked(name = "exports", permits = 2, blocking = false)
        public String tryExport() {
            return "exported";
        }

        @AdvisoryLocked(name = "exports", permits = 2, timeout = "100ms")
        public String export() {
            return "exported";
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Exports exports() {
            return new Exports();
        }
    }

    private ApplicationContextRunner observed() {
        return instance().withConfiguration(AutoConfigurations.of(ObservationAutoConfiguration.class,
                        MetricsAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class,
                        SimpleMetricsExportAutoConfiguration.class, PalsObservabilityAutoConfiguration.class))
                .withUserConfiguration(Fixture.class);
    }

    @Test
    void eachCallIsOneAcquisitionOfTheSemaphoreWithTheOutcomeTheCallerSaw() {
        observed().run(context -> {
            Exports exports = context.getBean(Exports.class);
            MeterRegistry meters = context.getBean(MeterRegistry.class);
            assertThat(exports.tryExport()).isEqualTo("exported");
            assertThat(exports.export()).isEqualTo("exported");

            AdvisorySemaphore elsewhere = context.getBean(LockRegistry.class).semaphore("exports", 2);
            assertThat(elsewhere.tryAcquire()).isTrue();
            assertThat(elsewhere.tryAcquire()).isTrue();
            assertThat(meters.get(LockMeters.HELD).gauge().value()).as("two permits, two holds").isEqualTo(2);
            assertThatThrownBy(exports::tryExport).isInstanceOf(AcquireFailureException.class)
                    .hasMessageContaining("no permit of semaphore 'exports' (2 permits) was free");
            assertThatThrownBy(exports::export).isInstanceOf(AcquireFailureException.class)
                    .hasMessageContaining("no permit of semaphore 'exports' (2 permits) was free")
                    .hasMessageContaining("waited PT0.1S");
            assertThat(elsewhere.release()).isTrue();
            assertThat(elsewhere.release()).isTrue();

            assertThat(acquisitions(meters, "acquired").count()).isEqualTo(4);
            assertThat(acquisitions(meters, "contended").count()).isEqualTo(1);
            assertThat(acquisitions(meters, "timed_out").count()).isEqualTo(1);
            assertThat(meters.get(LockObservations.ACQUIRE).timers()).as("no lock of its own for a permit, "
                    + "the count or the queue").allSatisfy(timer -> assertThat(timer.getId()
                            .getTag(LockObservations.GROUP)).isEqualTo("exports"));
            assertThat(meters.get(LockObservations.ACQUIRE).timers().stream().mapToLong(Timer::count).sum()).isEqualTo(6);
            assertThat(meters.get(LockObservations.HELD).tag(LockObservations.GROUP, "exports").timer().count())
                    .isEqualTo(4);
        });
    }

    private static Timer acquisitions(MeterRegistry meters, String outcome) {
        return meters.get(LockObservations.ACQUIRE).tag(LockObservations.GROUP, "exports")
                .tag(LockObservations.OUTCOME, outcome).timer();
    }
}
