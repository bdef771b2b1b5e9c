package dev.pals.spring.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pals.LockRegistry;
import dev.pals.spring.StarterTestSupport;
import io.r2dbc.spi.ConnectionFactory;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.FilteredClassLoader;

/** When {@link ReactiveTransactionLocks} is there: with spring-r2dbc, a ConnectionFactory and a registry only. */
class PalsR2dbcAutoConfigurationTest extends StarterTestSupport {

    @Test
    void aReactiveServiceHasReactiveTransactionLocksOnItsConnectionFactory() {
        new ReactiveTransactionLocksTest().reactiveService().run(context -> assertThat(context).hasNotFailed()
                .hasSingleBean(ConnectionFactory.class).hasSingleBean(ReactiveTransactionLocks.class));
    }

    @Test
    void aServletServiceWithoutAConnectionFactoryHasNone() {
        instance().withConfiguration(AutoConfigurations.of(PalsR2dbcAutoConfiguration.class)).run(context ->
                assertThat(context).hasNotFailed().hasSingleBean(LockRegistry.class)
                        .doesNotHaveBean(ReactiveTransactionLocks.class));
    }

    @Test
    void aServletServiceWithoutR2dbcOnTheClasspathStartsWithoutThem() {
        instance().withConfiguration(AutoConfigurations.of(PalsR2dbcAutoConfiguration.class))
                .withClassLoader(new FilteredClassLoader("io.r2dbc", "org.springframework.r2dbc")).run(context ->
                        assertThat(context).hasNotFailed().hasSingleBean(LockRegistry.class)
                                .doesNotHaveBean(ReactiveTransactionLocks.class));
    }

    @Test
    void aConnectionFactoryWithoutSpringR2dbcHasNone() {
        new ReactiveTransactionLocksTest().reactiveService()
                .withClassLoader(new FilteredClassLoader("org.springframework.r2dbc")).run(context ->
                        assertThat(context).hasNotFailed().hasSingleBean(ConnectionFactory.class)
                                .hasSingleBean(LockRegistry.class).doesNotHaveBean(ReactiveTransactionLocks.class));
    }
}
