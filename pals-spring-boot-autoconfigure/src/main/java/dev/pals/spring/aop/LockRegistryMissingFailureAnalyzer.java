package dev.pals.spring.aop;

import org.jspecify.annotations.Nullable;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * Explains a start-up that failed because a bean has {@code @AdvisoryLocked} methods and there is
 * no lock registry. Only that: a missing {@code LockRegistry} at an injection point of the
 * service's is left to Spring Boot's own analysis, which lists the conditions that did not match.
 */
final class LockRegistryMissingFailureAnalyzer extends AbstractFailureAnalyzer<LockRegistryMissingException> {

    @Override
    protected @Nullable FailureAnalysis analyze(Throwable rootFailure, LockRegistryMissingException cause) {
        return new FailureAnalysis(cause.getMessage(),
                "Set pals.datasource.url (or spring.datasource.url) to a PostgreSQL JDBC URL such as "
                + "jdbc:postgresql://localhost:5432/app, add com.zaxxer:HikariCP and spring-boot-jdbc if the build "
                + "excludes them, enable PALs, or define a LockRegistry bean of your own. "
                + "In a test that needs no PostgreSQL, set pals.in-memory=true.",
                cause);
    }
}
