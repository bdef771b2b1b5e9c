package dev.pals.spring.reactive;

import dev.pals.LockRegistry;
import dev.pals.spring.autoconfigure.PalsAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.context.annotation.Bean;
import reactor.core.publisher.Flux;

/**
 * A {@link ReactiveLockRegistry} on the service's {@link LockRegistry}, when Reactor is on the
 * class path; a service without Reactor gets none and is otherwise unchanged.
 */
@AutoConfiguration(after = PalsAutoConfiguration.class)
@ConditionalOnClass({LockRegistry.class, Flux.class})
@ConditionalOnBooleanProperty(name = "pals.enabled", matchIfMissing = true)
public final class ReactiveLockRegistryAutoConfiguration {

    @Bean
    @ConditionalOnSingleCandidate(LockRegistry.class)
    @ConditionalOnMissingBean
    ReactiveLockRegistry reactiveLockRegistry(LockRegistry registry) {
        return new ReactiveLockRegistry(registry);
    }
}
