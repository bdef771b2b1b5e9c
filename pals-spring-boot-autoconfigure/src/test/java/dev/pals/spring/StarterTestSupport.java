package dev.pals.spring;

import dev.pals.spring.aop.AdvisoryLockedAutoConfiguration;
import dev.pals.spring.autoconfigure.PalsAutoConfiguration;
import dev.pals.testing.TestDatabase;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.aop.AopAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.DataSourceTransactionManagerAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.JdbcTemplateAutoConfiguration;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.transaction.autoconfigure.TransactionAutoConfiguration;

/**
 * A service as Spring Boot would start it with the starter on the classpath: its own DataSource,
 * JdbcTemplate, transactions and AOP, on the shared test server, in a namespace of the test's own.
 * Each {@link #instance()} is one more instance of the service, with its own pools.
 */
public abstract class StarterTestSupport {

    protected static final TestDatabase DB = TestDatabase.get();

    protected final String namespace = TestDatabase.uniqueName("svc-");

    protected ApplicationContextRunner bareRunner() {
        return new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(
                DataSourceAutoConfiguration.class, DataSourceTransactionManagerAutoConfiguration.class,
                TransactionAutoConfiguration.class, JdbcTemplateAutoConfiguration.class, AopAutoConfiguration.class,
                PalsAutoConfiguration.class, AdvisoryLockedAutoConfiguration.class));
    }

    /** Runs two instances of the service {@code runner} starts, each with its own pools, together. */
    protected static void twoInstances(ApplicationContextRunner runner, TwoInstances body) {
        runner.run(one -> runner.run(two -> body.accept(one, two)));
    }

    /** What to do with two running instances. */
    @FunctionalInterface
    protected interface TwoInstances {
        void accept(AssertableApplicationContext one, AssertableApplicationContext two) throws Exception;
    }

    /**
     * Many tests end with locks still held; at their close the registry would give them the whole
     * shutdown phase (30 s) to be released. Here it does not wait: a phase of 1 s leaves it none
     * ({@code GracefulShutdownTest} sets its own).
     */
    protected ApplicationContextRunner instance() {
        return bareRunner().withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=1s",
                "spring.datasource.url=" + DB.url(),
                "spring.datasource.username=" + DB.user(), "spring.datasource.password=" + DB.password(),
                "spring.application.name=" + namespace);
    }
}
