package dev.pals.spring.autoconfigure;

import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.ConfigurationCondition;
import org.springframework.core.env.Environment;
import org.springframework.core.type.AnnotatedTypeMetadata;
import org.springframework.util.StringUtils;

/**
 * Matches when there is a database to take locks on: {@code pals.datasource.url},
 * {@code spring.datasource.url}, or a service connection (such as Testcontainers'). Spring Boot's
 * own fallback to an embedded database does not count: without a URL there is no registry, and
 * the failure analyzer explains what to set if something needs it.
 */
final class LockDatabaseCondition extends SpringBootCondition implements ConfigurationCondition {

    /** Boot's connection details made from spring.datasource.*, or an embedded database. */
    private static final String FROM_PROPERTIES =
            "org.springframework.boot.jdbc.autoconfigure.PropertiesJdbcConnectionDetails";

    @Override
    public ConfigurationPhase getConfigurationPhase() {
        return ConfigurationPhase.REGISTER_BEAN;
    }

    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        Environment environment = context.getEnvironment();
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

    /** The service connection among the connection details, ignoring Boot's own from properties. */
    static @Nullable JdbcConnectionDetails serviceConnection(Stream<JdbcConnectionDetails> details) {
        return details.filter(candidate -> !candidate.getClass().getName().equals(FROM_PROPERTIES))
                .findFirst().orElse(null);
    }
}
