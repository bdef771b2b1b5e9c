package dev.pals.spring.autoconfigure;

import dev.pals.LockRegistry;
import dev.pals.spring.integration.AdvisoryLockRegistry;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.context.annotation.Bean;

/**
 * Spring Integration on advisory locks, when it is on the classpath and the service has not
 * chosen a lock registry of its own: its leader initiator and lock advice then run on the
 * service's PostgreSQL.
 */
@AutoConfiguration(after = PalsAutoConfiguration.class)
@ConditionalOnClass({LockRegistry.class, org.springframework.integration.support.locks.LockRegistry.class})
public final class PalsIntegrationAutoConfiguration {

    @Bean
    @ConditionalOnSingleCandidate(LockRegistry.class)
    @ConditionalOnMissingBean(org.springframework.integration.support.locks.LockRegistry.class)
    AdvisoryLockRegistry palsIntegrationLockRegistry(LockRegistry registry) {
        return new AdvisoryLockRegistry(registry);
    }
}
