package dev.pals.spring.autoconfigure;

import dev.pals.LockRegistry;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.NoSuchBeanDefinitionException;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;

/**
 * Explains a start-up that failed because something needs a {@link LockRegistry} (an
 * {@code @AdvisoryLocked} method or an injection point) and there is none.
 */
@Order(Ordered.HIGHEST_PRECEDENCE)
final class LockRegistryMissingFailureAnalyzer extends AbstractFailureAnalyzer<NoSuchBeanDefinitionException> {

    @Override
    protected @Nullable FailureAnalysis analyze(Throwable rootFailure, NoSuchBeanDefinitionException cause) {
        if (cause.getBeanType() != LockRegistry.class) {
            return null;
        }
        return new FailureAnalysis("A LockRegistry is needed (by an @AdvisoryLocked method or an injection point), "
                + "but PALs made none. Either no PostgreSQL database is named (none of pals.datasource.url, "
                + "spring.datasource.url or the service's database connection details is set), HikariCP (which "
                + "holds PALs' lock connections) or spring-boot-jdbc is not on the class path, or PALs is "
                + "disabled with pals.enabled=false.",
                "Set pals.datasource.url (or spring.datasource.url) to a PostgreSQL JDBC URL such as "
                + "jdbc:postgresql://localhost:5432/app, add com.zaxxer:HikariCP and spring-boot-jdbc if the build "
                + "excludes them, enable PALs, or define a LockRegistry bean of your own. "
                + "In a test that needs no PostgreSQL, set pals.in-memory=true.",
                cause);
    }
}
