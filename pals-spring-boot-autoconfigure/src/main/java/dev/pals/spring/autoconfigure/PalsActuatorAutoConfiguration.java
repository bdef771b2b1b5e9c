package dev.pals.spring.autoconfigure;

import dev.pals.LockRegistry;
import dev.pals.spring.actuate.AdvisoryLocksEndpoint;
import dev.pals.spring.actuate.LockDatabaseHealthIndicator;
import dev.pals.spring.aop.AdvisoryLockedAdvisor;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Actuator for PALs, when the service has it: the {@code advisorylocks} endpoint and the
 * {@code advisoryLocks} health contributor. Both read the lock database through the lock pool,
 * so they need the auto-configured registry and its pool.
 */
@AutoConfiguration(after = PalsAutoConfiguration.class)
@ConditionalOnClass(LockRegistry.class)
@ConditionalOnBean({LockRegistry.class, LockConnectionPool.class})
public final class PalsActuatorAutoConfiguration {

    /**
     * Read-only, and exposed over HTTP only if the service exposes it, as every endpoint but health.
     * The endpoint's condition is on the method, so that it is only read once its classes are known
     * to be there: conditions of one class are all loaded before any is evaluated.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({Endpoint.class, ConditionalOnAvailableEndpoint.class})
    static final class EndpointConfiguration {

        @Bean
        @ConditionalOnMissingBean
        @ConditionalOnAvailableEndpoint
        AdvisoryLocksEndpoint advisoryLocksEndpoint(LockRegistry registry, LockConnectionPool pool,
                ObjectProvider<AdvisoryLockedAdvisor> advisors) {
            return new AdvisoryLocksEndpoint(registry, pool.getDataSource(), () -> advisors.orderedStream()
                    .flatMap(advisor -> advisor.constantLockNames().stream()).toList());
        }
    }

    /** On unless {@code management.health.advisorylocks.enabled=false}; its condition on the method, as above. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
    static final class HealthConfiguration {

        @Bean
        @ConditionalOnMissingBean(name = "advisoryLocksHealthIndicator")
        @ConditionalOnEnabledHealthIndicator("advisorylocks")
        LockDatabaseHealthIndicator advisoryLocksHealthIndicator(LockRegistry registry, LockConnectionPool pool) {
            return new LockDatabaseHealthIndicator(registry, pool.getDataSource());
        }
    }
}
