package dev.pals.spring.autoconfigure;

import org.springframework.boot.autoconfigure.condition.AnyNestedCondition;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;

/**
 * Matches when there is a database to take locks on: {@code pals.datasource.url}, or the
 * service's own database ({@code spring.datasource.url} or its connection details). Without one
 * there is no registry, and the failure analyzer explains what to set if something needs it.
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

    @ConditionalOnBean(JdbcConnectionDetails.class)
    static final class ServiceConnectionDetails {
    }
}
