package dev.pals.spring.autoconfigure;

import dev.pals.LockRegistry;
import dev.pals.spring.actuate.AdvisoryLocksEndpoint;
import dev.pals.spring.actuate.LockDatabaseHealthIndicator;
import dev.pals.spring.aop.AdvisoryLockedAutoConfiguration;
import dev.pals.spring.aop.LockedMethods;
import javax.sql.DataSource;
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
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;

/**
 * Actuator for PALs, when the service has it: the {@code advisorylocks} endpoint and the
 * {@code advisoryLocks} health contributor. Both read the lock database the auto-configured
 * registry locks in, through the lock pool or the service's {@link LockDataSource @LockDataSource}.
 */
@AutoConfiguration(after = {PalsAutoConfiguration.class, AdvisoryLockedAutoConfiguration.class})
@ConditionalOnClass(LockRegistry.class)
@ConditionalOnBean(LockRegistry.class)
@Conditional({LockDatabaseCondition.LockDatabaseBean.class, LockDatabaseCondition.NotInMemory.class})
public final class PalsActuatorAutoConfiguration {

    /** The lock database: the service's {@code @LockDataSource} if it gave one, else the lock pool. */
    private static DataSource lockDatabase(ObjectProvider<DataSource> lockDataSource,
            ObjectProvider<LockConnectionPool> pool) {
        DataSource qualified = lockDataSource.getIfAvailable();
        return qualified != null ? qualified : pool.getObject().getDataSource();
    }

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
        AdvisoryLocksEndpoint advisoryLocksEndpoint(LockRegistry registry,
                @LockDataSource ObjectProvider<DataSource> lockDataSource, ObjectProvider<LockConnectionPool> pool,
                ObjectProvider<LockedMethods> lockedMethods) {
            return new AdvisoryLocksEndpoint(registry, lockDatabase(lockDataSource, pool), () -> lockedMethods
                    .orderedStream().flatMap(methods -> methods.constantNames().stream()).toList());
        }
    }

    /** On unless {@code management.health.advisorylocks.enabled=false}; its condition on the method, as above. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
    static final class HealthConfiguration {

        @Bean
        @ConditionalOnMissingBean(name = "advisoryLocksHealthIndicator")
        @ConditionalOnEnabledHealthIndicator("advisorylocks")
        LockDatabaseHealthIndicator advisoryLocksHealthIndicator(LockRegistry registry,
                @LockDataSource ObjectProvider<DataSource> lockDataSource, ObjectProvider<LockConnectionPool> pool) {
            return new LockDatabaseHealthIndicator(registry, lockDatabase(lockDataSource, pool));
        }
    }
}
