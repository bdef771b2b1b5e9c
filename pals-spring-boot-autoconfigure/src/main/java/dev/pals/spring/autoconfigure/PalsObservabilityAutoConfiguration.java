package dev.pals.spring.autoconfigure;

import dev.pals.LockRegistry;
import dev.pals.spring.observability.LockMeterObservationHandler;
import dev.pals.spring.observability.LockMeters;
import dev.pals.spring.observability.LockObservations;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.observation.DefaultMeterObservationHandler;
import io.micrometer.core.instrument.observation.MeterObservationHandler;
import io.micrometer.observation.GlobalObservationConvention;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationFilter;
import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.ObservationPredicate;
import io.micrometer.observation.ObservationRegistry;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.ConfigurableBeanFactory;
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
import org.springframework.boot.micrometer.observation.autoconfigure.ObservationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.annotation.Order;
import org.springframework.util.ClassUtils;

/**
 * Micrometer for PALs, when the service has it: observations of every acquisition and critical
 * section (spans when tracing is on, timers through Spring Boot's meter handler, or the timers
 * alone when nothing but meters would see them), and the registry's gauges and lost-lock counter.
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

        private static final String TRACER = "io.micrometer.tracing.Tracer";
        // Spring Boot's own predicate and filter read management.observations.*, which is checked here
        private static final String SPRING_BOOT = "org.springframework.boot.";

        @Bean
        @Order(0)
        @ConditionalOnMissingBean
        LockMeterObservationHandler palsLockMeterObservationHandler(MeterRegistry meters,
                ObjectProvider<MetricsProperties> properties) {
            return new LockMeterObservationHandler(meters, longTaskTimers(properties));
        }

        /**
         * The meters alone, without an Observation per call, when nothing else would see the lock
         * observations; decided once, at start-up, from the beans that would (handlers registered by
         * an ObservationRegistryCustomizer are invisible here: pals.observations=observations).
         */
        @Bean
        @ConditionalOnMissingBean
        LockObservations palsLockObservations(ObservationRegistry observations, MeterRegistry meters,
                ObjectProvider<MetricsProperties> properties, ObjectProvider<PalsProperties> pals,
                ObjectProvider<ObservationProperties> observationProperties, ListableBeanFactory beans) {
            PalsProperties settings = pals.getIfAvailable();
            boolean auto = settings == null || settings.getObservations() == PalsProperties.Observations.AUTO;
            return auto && onlyMetersListen(observations, observationProperties.getIfAvailable(), beans)
                    ? LockObservations.metersOnly(meters, longTaskTimers(properties))
                    : new LockObservations(observations);
        }

        private static boolean onlyMetersListen(ObservationRegistry observations,
                @Nullable ObservationProperties properties, ListableBeanFactory beans) {
            ClassLoader loader = beans instanceof ConfigurableBeanFactory configurable
                    ? configurable.getBeanClassLoader() : null;
            if (ClassUtils.isPresent(TRACER, loader)
                    && beans.getBeanNamesForType(ClassUtils.resolveClassName(TRACER, loader)).length > 0) {
                return false;
            }
            if (beans.getBeanNamesForType(GlobalObservationConvention.class).length > 0
                    || (properties != null && !properties.getKeyValues().isEmpty())) {
                return false;
            }
            boolean onlyMeterHandlers = beans.getBeanProvider(ObservationHandler.class).stream()
                    .allMatch(handler -> handler instanceof MeterObservationHandler);
            boolean ownFiltering = Stream.concat(beans.getBeanProvider(ObservationPredicate.class).stream(),
                            beans.getBeanProvider(ObservationFilter.class).stream())
                    .anyMatch(bean -> !bean.getClass().getName().startsWith(SPRING_BOOT));
            // switched off by management.observations.enable.*: the Observations record nothing, as before
            boolean enabled = !Observation.createNotStarted(LockObservations.ACQUIRE, observations).isNoop()
                    && !Observation.createNotStarted(LockObservations.HELD, observations).isNoop();
            return onlyMeterHandlers && !ownFiltering && enabled;
        }

        private static boolean longTaskTimers(ObjectProvider<MetricsProperties> properties) {
            MetricsProperties metrics = properties.getIfAvailable();
            return metrics == null || !metrics.getObservations().getIgnoredMeters()
                    .contains(DefaultMeterObservationHandler.IgnoredMeters.LONG_TASK_TIMER);
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
