package dev.pals.benchmarks;

import dev.pals.AcquireFailureException;
import dev.pals.LockObserver;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;

/**
 * This project through {@code @AdvisoryLocked} on a Spring bean, in a Boot application started
 * with the starter and nothing but the lock database configured; with or without the starter's
 * Micrometer observations (Spring Boot's metrics are on the classpath either way); on PostgreSQL or,
 * to price the proxy and the observations alone, on the starter's in-memory registry.
 */
final class AnnotationContender extends Contender {

    private final ConfigurableApplicationContext context;
    private final LockedService service;

    /**
     * @param observations whether the observed proxy makes its meters through Observation objects
     *     (as a service with tracing does) rather than straight into its timers
     * @param inMemory whether its registry is the starter's in-memory one ({@code pals.in-memory}),
     *     which never reaches the database
     */
    AnnotationContender(BenchmarkDatabase database, String applicationName, boolean observed, boolean observations,
            boolean inMemory) {
        this.context = new SpringApplicationBuilder(Application.class)
                .web(WebApplicationType.NONE)
                .properties("spring.main.banner-mode=off", "logging.level.root=warn",
                        "spring.datasource.url=" + database.url,
                        "spring.datasource.username=" + database.user,
                        "spring.datasource.password=" + database.password,
                        "pals.datasource.application-name=" + applicationName,
                        "pals.observations=" + (observations ? "observations" : "auto"),
                        "pals.in-memory=" + inMemory,
                        "spring.autoconfigure.exclude="
                                + (observed ? "" : "dev.pals.spring.autoconfigure.PalsObservabilityAutoConfiguration"))
                .run();
        this.service = context.getBean(LockedService.class);
    }

    @Override
    boolean tryRun(String name, Runnable body) {
        try {
            service.run(name, body);
            return true;
        } catch (AcquireFailureException contended) {
            return false;
        }
    }

    /** A method-scoped lock cannot be kept past its call. */
    @Override
    @Nullable Held tryHold(String name) {
        throw new UnsupportedOperationException("@AdvisoryLocked holds a lock for one call");
    }

    /** Whether the registry under the proxy reports to an observer, so that scenario 6 prices what it claims. */
    boolean isObserved() {
        return context.getBeanProvider(LockObserver.class).stream().findAny().isPresent();
    }

    /** Whether the proxy's registry keeps its locks in this JVM, never reaching the database. */
    boolean isInMemory() {
        return context.getBean(LockRegistry.class).leaseBounds() == null;
    }

    @Override
    public void close() {
        context.close();
    }

    /** The service method under test. Public and not final, for the proxy. */
    public static class LockedService {

        @AdvisoryLocked(name = "#name", blocking = false)
        public void run(String name, Runnable body) {
            body.run();
        }
    }

    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class Application {

        @Bean
        LockedService lockedService() {
            return new LockedService();
        }
    }
}
