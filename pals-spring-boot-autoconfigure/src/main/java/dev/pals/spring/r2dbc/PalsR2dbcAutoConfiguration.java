package dev.pals.spring.r2dbc;

import dev.pals.LockRegistry;
import dev.pals.spring.autoconfigure.PalsAutoConfiguration;
import io.r2dbc.spi.ConnectionFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.context.annotation.Bean;
import org.springframework.r2dbc.connection.ConnectionFactoryUtils;
import org.springframework.transaction.reactive.TransactionSynchronizationManager;
import reactor.core.publisher.Mono;

/**
 * {@link ReactiveTransactionLocks} for a service with spring-r2dbc, one {@link ConnectionFactory}
 * and a {@link LockRegistry}: transaction-scoped locks in its reactive transactions. Runs after
 * Spring Boot's R2DBC auto-configuration, whose ConnectionFactory it locks in.
 */
@AutoConfiguration(after = PalsAutoConfiguration.class,
        afterName = "org.springframework.boot.r2dbc.autoconfigure.R2dbcAutoConfiguration")
@ConditionalOnClass({ConnectionFactory.class, ConnectionFactoryUtils.class, TransactionSynchronizationManager.class,
        Mono.class, LockRegistry.class})
public final class PalsR2dbcAutoConfiguration {

    @Bean
    @ConditionalOnBean(LockRegistry.class)
    @ConditionalOnSingleCandidate(ConnectionFactory.class)
    @ConditionalOnMissingBean(ReactiveTransactionLocks.class)
    ReactiveTransactionLocks palsReactiveTransactionLocks(LockRegistry registry, ConnectionFactory connectionFactory) {
        return new ReactiveTransactionLocks(registry, connectionFactory);
    }
}
