package dev.pals.spring.autoconfigure;

import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.condition.AnyNestedCondition;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.boot.origin.OriginProvider;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.aot.AbstractAotProcessor;
import org.springframework.core.env.Environment;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * Matches when there is a database to take locks on: {@code pals.datasource.url},
 * {@code spring.datasource.url}, a {@link PalsConnectionDetails} bean of the service's, a
 * {@link LockDataSource @LockDataSource} DataSource, or a service connection (such as
 * Testcontainers'). Spring Boot's own fallback to an embedded database does not count: without a
 * URL there is no registry, and the failure analyzer explains what to set if something needs it.
 * During AOT processing, which fixes conditions at build time, it matches without a URL: a service
 * is built without its database and given one when it runs, where a missing URL then fails
 * start-up and says what to set. {@code pals.in-memory} is decided apart, by {@link NotInMemory}
 * and {@link InMemory}: one binding decides both, so exactly one of them applies.
 */
final class LockDatabaseCondition extends AnyNestedCondition {

    LockDatabaseCondition() {
        super(ConfigurationPhase.REGISTER_BEAN);
    }

    @ConditionalOnProperty("pals.datasource.url")
    static final class LockUrl {
    }

    @ConditionalOnProperty("spring.datasource.url")
    static final class ServiceUrl {
    }

    @ConditionalOnBean(PalsConnectionDetails.class)
    static final class LockConnectionDetails {
    }

    @ConditionalOnBean(annotation = LockDataSource.class)
    static final class QualifiedDataSource {
    }

    @Conditional(ServiceConnection.class)
    static final class ServiceConnectionDetails {
    }

    @Conditional(AotProcessing.class)
    static final class BuildTime {
    }

    /** {@code pals.in-memory}, bound as the properties class binds it ({@code on}, {@code yes} and {@code 1} too). */
    static boolean inMemory(Environment environment) {
        return Binder.get(environment).bind("pals.in-memory", Boolean.class).orElse(false);
    }

    /**
     * Whether a connection details bean is a service connection: those of Testcontainers and
     * Docker Compose say where they come from, the one Spring Boot makes from
     * {@code spring.datasource.*} (or an embedded database) does not.
     */
    static boolean isServiceConnection(JdbcConnectionDetails details) {
        return details instanceof OriginProvider;
    }

    /** The service connection among the service's connection details, if there is one. */
    static @Nullable JdbcConnectionDetails serviceConnection(Stream<JdbcConnectionDetails> details) {
        return details.filter(LockDatabaseCondition::isServiceConnection).findFirst().orElse(null);
    }

    /**
     * Matches when the lock database is a bean: the lock pool, or the service's
     * {@link LockDataSource @LockDataSource} DataSource. What reads it besides the registry (the
     * endpoint, the health contributor) needs one of them.
     */
    static final class LockDatabaseBean extends AnyNestedCondition {

        LockDatabaseBean() {
            super(ConfigurationPhase.REGISTER_BEAN);
        }

        @ConditionalOnBean(LockConnectionPool.class)
        static final class Pool {
        }

        @ConditionalOnBean(annotation = LockDataSource.class)
        static final class QualifiedDataSource {
        }
    }

    /** Matches a {@link JdbcConnectionDetails} bean that is a service connection. */
    static final class ServiceConnection extends SpringBootCondition {

        @Override
        public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
            ConfigurableListableBeanFactory beanFactory = context.getBeanFactory();
            if (beanFactory != null) {
                for (String name : beanFactory.getBeanNamesForType(JdbcConnectionDetails.class, true, false)) {
                    if (beanFactory.isTypeMatch(name, OriginProvider.class)) {
                        return ConditionOutcome.match("service connection " + name + " names the database");
                    }
                }
            }
            return ConditionOutcome.noMatch("no service connection names a database");
        }
    }

    /** Matches during AOT processing, where the database is named only when the service runs. */
    static final class AotProcessing extends SpringBootCondition {

        @Override
        public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
            return Boolean.getBoolean(AbstractAotProcessor.AOT_PROCESSING)
                    ? ConditionOutcome.match("AOT processing: the database is named when the service runs")
                    : ConditionOutcome.noMatch("not AOT processing");
        }
    }

    /** Matches with {@code pals.in-memory} true, as {@link #inMemory} binds it. */
    static final class InMemory extends SpringBootCondition {

        @Override
        public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
            return inMemory(context.getEnvironment()) ? ConditionOutcome.match("pals.in-memory is true")
                    : ConditionOutcome.noMatch("pals.in-memory is not true");
        }
    }

    /** Matches unless {@code pals.in-memory} is true, as {@link #inMemory} binds it. */
    static final class NotInMemory extends SpringBootCondition {

        @Override
        public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
            return inMemory(context.getEnvironment())
                    ? ConditionOutcome.noMatch("pals.in-memory is true: locks are kept in this JVM")
                    : ConditionOutcome.match("pals.in-memory is not true");
        }
    }
}
