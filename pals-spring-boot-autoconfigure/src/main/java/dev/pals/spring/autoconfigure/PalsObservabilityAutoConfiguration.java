package dev.pals.spring.autoconfigure;

import dev.pals.LockRegistry;
import dev.pals.spring.observability.LockMeterObservationHandler;
import dev.pals.spring.observability.LockMeters;
import dev.pals.spring.observability.LockObservations;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.observation.DefaultMeterObservationHandler;
import io.micrometer.core.instrument.observation.MeterObservationHandler;
import io.micrometer.observation.ObservationRegistry;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsProperties;
import org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.annotation.Order;

/**
 * Micrometer for PALs, when the service has it: observations of every acquisition and critical
 * section (spans when tracing is on, timers through Spring Boot's meter handler), and the
 * registry's gauges and lost-lock counter.
 */
@AutoConfiguration(after = {PalsAutoConfiguration.class, ObservationAutoConfiguration.class,
        MetricsAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class})
@ConditionalOnClass({LockRegistry.class, ObservationRegistry.class})
@ConditionalOnBooleanProperty(name = "pals.enabled", matchIfMissing = true)
public final class PalsObservabilityAutoConfiguration {

    /** Observations need a registry to report to; Spring Boot makes one when Micrometer is set up. */
    @Bean
    @ConditionalOnBean(ObservationRegistry.class)
    @ConditionalOnMissingBean
    LockObservations palsLockObservations(ObservationRegistry observations) {
        return new LockObservations(observations);
    }

    /**
     * The lock observations' meters, registered once and kept, ahead of Spring Boot's meter handler
     * (which would look each one up on every call); Spring Boot's handler keeps every other observation.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(MeterObservationHandler.class)
    @ConditionalOnBean({MeterRegistry.class, ObservationRegistry.class})
    static final class ObservationMetersConfiguration {

        @Bean
        @Order(0)
        @ConditionalOnMissingBean
        LockMeterObservationHandler palsLockMeterObservationHandler(MeterRegistry meters,
                ObjectProvider<MetricsProperties> properties) {
            MetricsProperties metrics = properties.getIfAvailable();
            boolean longTaskTimers = metrics == null || !metrics.getObservations().getIgnoredMeters()
                    .contains(DefaultMeterObservationHandler.IgnoredMeters.LONG_TASK_TIMER);
            return new LockMeterObservationHandler(meters, longTaskTimers);
        }
    }

    /** Gauges of the auto-configured registry, or the service's own when it has just one. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(MeterBinder.class)
    @ConditionalOnBean(MeterRegistry.class)
    @ConditionalOnSingleCandidate(LockRegistry.class)
    static final class MetersConfiguration {

        @Bean
        @ConditionalOnMissingBean
        LockMeters palsLockMeters(LockRegistry registry) {
            return new LockMeters(registry);
        }
    }
}
