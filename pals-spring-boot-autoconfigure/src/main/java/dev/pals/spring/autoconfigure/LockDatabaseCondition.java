package dev.pals.spring.autoconfigure;

import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.ConfigurationCondition;
import org.springframework.context.aot.AbstractAotProcessor;
import org.springframework.core.env.Environment;
import org.springframework.core.type.AnnotatedTypeMetadata;
import org.springframework.util.StringUtils;

/**
 * Matches when there is a database to take locks on: {@code pals.datasource.url},
 * {@code spring.datasource.url}, or a service connection (such as Testcontainers'). Spring Boot's
 * own fallback to an embedded database does not count: without a URL there is no registry, and
 * the failure analyzer explains what to set if something needs it. During AOT processing, which
 * fixes conditions at build time, it matches without a URL: a service is built without its
 * database and given one when it runs, where a missing URL then fails start-up and says what to
 * set. Never matches with {@code pals.in-memory} true, where {@link #inMemory} makes the registry
 * instead: one binding decides both, so exactly one of them applies.
 */
final class LockDatabaseCondition extends SpringBootCondition implements ConfigurationCondition {

    /** Boot's connection details made from spring.datasource.*, or an embedded database. */
    private static final String FROM_PROPERTIES =
            "org.springframework.boot.jdbc.autoconfigure.PropertiesJdbcConnectionDetails";

    @Override
    public ConfigurationPhase getConfigurationPhase() {
        return ConfigurationPhase.REGISTER_BEAN;
    }

    /** {@code pals.in-memory}, bound as the properties class binds it ({@code on}, {@code yes} and {@code 1} too). */
    static boolean inMemory(Environment environment) {
        return Binder.get(environment).bind("pals.in-memory", Boolean.class).orElse(false);
    }

    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        Environment environment = context.getEnvironment();
        if (inMemory(environment)) {
            return ConditionOutcome.noMatch("pals.in-memory is true: locks are kept in this JVM");
        }
        if (Boolean.getBoolean(AbstractAotProcessor.AOT_PROCESSING)) {
            return ConditionOutcome.match("AOT processing: the database is named when the service runs");
        }
        for (String property : new String[] {"pals.datasource.url", "spring.datasource.url"}) {
            if (StringUtils.hasText(environment.getProperty(property))) {
                return ConditionOutcome.match(property + " is set");
            }
        }
        ConfigurableListableBeanFactory beanFactory = context.getBeanFactory();
        if (beanFactory != null) {
            for (String name : beanFactory.getBeanNamesForType(JdbcConnectionDetails.class, true, false)) {
                Class<?> type = beanFactory.getType(name, false);
                if (type != null && !type.getName().equals(FROM_PROPERTIES)) {
                    return ConditionOutcome.match("service connection " + name + " names the database");
                }
            }
        }
        return ConditionOutcome.noMatch("neither pals.datasource.url, spring.datasource.url nor a service "
                + "connection names a database");
    }

    /** Matches with {@code pals.in-memory} true, as {@link LockDatabaseCondition} binds it. */
    static final class InMemory extends SpringBootCondition {

        @Override
        public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
            return inMemory(context.getEnvironment()) ? ConditionOutcome.match("pals.in-memory is true")
                    : ConditionOutcome.noMatch("pals.in-memory is not true");
        }
    }

    /** The service connection among the connection details, ignoring Boot's own from properties. */
    static @Nullable JdbcConnectionDetails serviceConnection(Stream<JdbcConnectionDetails> details) {
        return details.filter(candidate -> !candidate.getClass().getName().equals(FROM_PROPERTIES))
                .findFirst().orElse(null);
    }
}
