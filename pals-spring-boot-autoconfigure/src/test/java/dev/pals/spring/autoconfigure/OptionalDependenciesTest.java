package dev.pals.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.HeldLock;
import dev.pals.LockObserver;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.StarterTestSupport;
import dev.pals.spring.observability.LockObservations;
import dev.pals.spring.r2dbc.ReactiveTransactionLocks;
import dev.pals.spring.reactive.ReactiveLockRegistry;
import io.micrometer.common.KeyValue;
import io.micrometer.context.ContextRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.ObservationRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.aop.support.AopUtils;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.aop.AopAutoConfiguration;
import org.springframework.boot.context.annotation.ImportCandidates;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.diagnostics.FailureAnalyzer;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.annotation.AnnotationUtils;
import org.springframework.core.io.support.SpringFactoriesLoader;
import org.springframework.core.io.support.SpringFactoriesLoader.FailureHandler;
import org.springframework.util.ClassUtils;

/**
 * A service with every optional dependency the starter reacts to, and then without each in turn,
 * hidden from the auto-configuration by a {@link FilteredClassLoader}: it still starts, loses only
 * what needs the missing library, and its locked methods still lock where they can without it.
 * Beans are found by the public types a user would look for, and every auto-configuration of the
 * starter runs, whichever classes it is split into.
 */
class OptionalDependenciesTest extends StarterTestSupport {

    /**
     * A service method that must not run on two instances at once; public, because its proxy class is
     * defined in the filtering class loader, outside this package.
     */
    public static class Billing {
        @AdvisoryLocked(name = "billing", blocking = false)
        public String run() {
            return "ran";
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Service {
        @Bean
        Billing billing() {
            return new Billing();
        }
    }

    /**
     * Micrometer's {@link ContextRegistry} loads its accessors once per JVM, through the class loader
     * of the thread that first asks for it, and fails for good if that one hides a library whose
     * service file it still shows (Reactor's, under the filter that hides Reactor): loaded here as
     * a service would load it, whichever test runs first.
     */
    @BeforeAll
    static void loadContextRegistryAsAServiceWould() {
        assertThat(ContextRegistry.getInstance().getThreadLocalAccessors()).isNotEmpty();
    }

    /** The starter's auto-configurations as the application finds them, so that a split or a rename is followed. */
    private static List<Class<?>> palsAutoConfigurations() {
        ClassLoader loader = OptionalDependenciesTest.class.getClassLoader();
        return ImportCandidates.load(AutoConfiguration.class, loader).getCandidates().stream()
                .filter(name -> name.startsWith("dev.pals."))
                .<Class<?>>map(name -> ClassUtils.resolveClassName(name, loader)).toList();
    }

    /** The service with a locked method. */
    private ApplicationContextRunner service() {
        return withoutLockedMethods().withUserConfiguration(Service.class);
    }

    /** The service with Micrometer and the actuator set up as Spring Boot sets them up, and every PALs part. */
    private ApplicationContextRunner withoutLockedMethods() {
        List<Class<?>> pals = palsAutoConfigurations();
        assertThat(pals).as("the starter's auto-configurations").hasSizeGreaterThan(1);
        return instance()
                .withConfiguration(AutoConfigurations.of(ObservationAutoConfiguration.class,
                        MetricsAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class,
                        SimpleMetricsExportAutoConfiguration.class))
                .withConfiguration(AutoConfigurations.of(pals.toArray(Class<?>[]::new)))
                .withPropertyValues("management.endpoints.web.exposure.include=advisorylocks");
    }

    /** The service, without the packages of one optional dependency. */
    private ApplicationContextRunner without(String... packages) {
        return service().withClassLoader(new FilteredClassLoader(packages));
    }

    /** The locked method runs when its lock is free and is refused while another holder has it. */
    private static void lockedMethodLocks(AssertableApplicationContext context) {
        Billing billing = context.getBean(Billing.class);
        assertThat(billing.run()).isEqualTo("ran");
        try (HeldLock held = context.getBean(LockRegistry.class).lock("billing").hold()) {
            assertThatThrownBy(billing::run).isInstanceOf(AcquireFailureException.class);
        }
        assertThat(billing.run()).isEqualTo("ran");
    }

    /** Found by its id, so that the endpoint's class may be the starter's own business. */
    private static boolean hasLocksEndpoint(AssertableApplicationContext context) {
        return context.getBeansWithAnnotation(Endpoint.class).values().stream()
                .map(bean -> AnnotationUtils.findAnnotation(AopUtils.getTargetClass(bean), Endpoint.class))
                .anyMatch(endpoint -> endpoint != null && endpoint.id().equals("advisorylocks"));
    }

    @Test
    void withEveryOptionalDependencyEveryPartIsThere() {
        service().run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(LockRegistry.class).hasSingleBean(LockObserver.class)
                    .hasBean("palsLockMeters").hasBean("palsServerLockTableMeters").hasSingleBean(HealthIndicator.class)
                    .hasSingleBean(org.springframework.integration.support.locks.LockRegistry.class)
                    .hasSingleBean(ReactiveLockRegistry.class);
            assertThat(hasLocksEndpoint(context)).isTrue();
            lockedMethodLocks(context);
        });
    }

    @Test
    void withoutHikariCpAServiceWithoutLockedMethodsStartsWithoutARegistry() {
        withoutLockedMethods().withClassLoader(new FilteredClassLoader("com.zaxxer.hikari")).run(context ->
                assertThat(context).hasNotFailed().doesNotHaveBean(LockRegistry.class)
                        .doesNotHaveBean(HealthIndicator.class).doesNotHaveBean(MeterBinder.class));
    }

    @Test
    void withoutHikariCpALockedMethodFailsStartUpWithAnAnalysisNamingHikariCp() {
        without("com.zaxxer.hikari").run(context -> {
            assertThat(context).hasFailed();
            FailureAnalysis analysis = palsAnalysisOf(context.getStartupFailure());
            assertThat(analysis).isNotNull();
            assertThat(analysis.getDescription()).contains("HikariCP");
            assertThat(analysis.getAction()).contains("com.zaxxer:HikariCP");
        });
    }

    @Test
    void withoutHikariCpTheInMemoryRegistryStillLocks() {
        without("com.zaxxer.hikari").withPropertyValues("pals.in-memory=true").run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(LockRegistry.class);
            lockedMethodLocks(context);
        });
    }

    /** What PALs' failure analyzers, as registered in spring.factories, make of {@code failure}. */
    private static @Nullable FailureAnalysis palsAnalysisOf(Throwable failure) {
        return SpringFactoriesLoader.forDefaultResourceLocation(OptionalDependenciesTest.class.getClassLoader())
                .load(FailureAnalyzer.class, null, FailureHandler.handleMessage((message, cause) -> { })).stream()
                .filter(analyzer -> analyzer.getClass().getName().startsWith("dev.pals."))
                .map(analyzer -> analyzer.analyze(failure)).filter(Objects::nonNull).findFirst().orElse(null);
    }

    /** A service without Boot's JDBC support, so without its DataSource auto-configuration either. */
    private ApplicationContextRunner withoutSpringBootJdbc() {
        return new ApplicationContextRunner().withClassLoader(new FilteredClassLoader("org.springframework.boot.jdbc"))
                .withConfiguration(AutoConfigurations.of(AopAutoConfiguration.class))
                .withConfiguration(AutoConfigurations.of(palsAutoConfigurations().toArray(Class<?>[]::new)))
                .withUserConfiguration(Service.class);
    }

    @Test
    void withoutSpringBootJdbcALockedMethodFailsStartUpWithAnAnalysisNamingIt() {
        withoutSpringBootJdbc().run(context -> {
            assertThat(context).hasFailed();
            FailureAnalysis analysis = palsAnalysisOf(context.getStartupFailure());
            assertThat(analysis).isNotNull();
            assertThat(analysis.getDescription()).contains("spring-boot-jdbc");
        });
    }

    @Test
    void withoutSpringBootJdbcTheInMemoryRegistryStillLocks() {
        withoutSpringBootJdbc().withPropertyValues("pals.in-memory=true").run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(LockRegistry.class);
            lockedMethodLocks(context);
        });
    }

    @Test
    void withoutMicrometerThereAreNoObservationsNorMetersAndMethodsStillLock() {
        without("io.micrometer").run(context -> {
            assertThat(context).hasNotFailed().doesNotHaveBean(LockObserver.class).doesNotHaveBean(MeterBinder.class)
                    .hasSingleBean(HealthIndicator.class);
            lockedMethodLocks(context);
        });
    }

    @Test
    void withMicrometerObservationButNotMicrometerCoreThereAreObservationsButNoMeters() {
        without("io.micrometer.core").run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(LockObserver.class).doesNotHaveBean(MeterBinder.class);
            lockedMethodLocks(context);
        });
    }

    @Test
    void withoutTheActuatorThereIsNoEndpointNorHealthIndicatorAndMethodsStillLock() {
        without("org.springframework.boot.actuate", "org.springframework.boot.health").run(context -> {
            assertThat(context).hasNotFailed().doesNotHaveBean(HealthIndicator.class).hasBean("palsLockMeters").hasBean("palsServerLockTableMeters");
            assertThat(hasLocksEndpoint(context)).isFalse();
            lockedMethodLocks(context);
        });
    }

    @Test
    void withSpringBootHealthButNotTheActuatorThereIsTheHealthIndicatorButNoEndpoint() {
        without("org.springframework.boot.actuate").run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(HealthIndicator.class);
            assertThat(hasLocksEndpoint(context)).isFalse();
            lockedMethodLocks(context);
        });
    }

    @Test
    void withTheActuatorButNotSpringBootHealthThereIsTheEndpointButNoHealthIndicator() {
        without("org.springframework.boot.health").run(context -> {
            assertThat(context).hasNotFailed().doesNotHaveBean(HealthIndicator.class);
            assertThat(hasLocksEndpoint(context)).isTrue();
            lockedMethodLocks(context);
        });
    }

    @Test
    void withoutSpringIntegrationThereIsNoIntegrationLockRegistryAndMethodsStillLock() {
        without("org.springframework.integration").run(context -> {
            assertThat(context).hasNotFailed()
                    .doesNotHaveBean(org.springframework.integration.support.locks.LockRegistry.class)
                    .hasSingleBean(LockRegistry.class);
            lockedMethodLocks(context);
        });
    }

    /** Every observation started, with its parent. */
    static class Observations implements ObservationHandler<Observation.Context> {
        final List<Observation.Context> started = new CopyOnWriteArrayList<>();

        @Override
        public void onStart(Observation.Context context) {
            started.add(context);
        }

        @Override
        public boolean supportsContext(Observation.Context context) {
            return true;
        }
    }

    @Test
    void withoutContextPropagationAsyncAcquisitionsStillLockButCarryNoContext() {
        without("io.micrometer.context").withBean(Observations.class).run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(LockObserver.class);
            lockedMethodLocks(context);
            AdvisoryLock lock = context.getBean(LockRegistry.class).lock("report");
            Observation request = Observation.start("request", context.getBean(ObservationRegistry.class));
            try (Observation.Scope scope = request.openScope()) {
                assertThat(lock.acquireAsync(Duration.ofSeconds(30)).get(30, TimeUnit.SECONDS)).isTrue();
            }
            assertThat(lock.release()).isTrue();
            request.stop();
            assertThat(context.getBean(Observations.class).started)
                    .filteredOn(started -> KeyValue.of(LockObservations.NAME, "report")
                            .equals(started.getHighCardinalityKeyValue(LockObservations.NAME)))
                    .as("the acquisition and the section of the lock, which no decorator carried the request to")
                    .hasSize(2).allSatisfy(started -> assertThat(started.getParentObservation()).isNull());
        });
    }

    @Test
    void withoutReactorEveryPartIsThereAndMethodsStillLock() {
        without("reactor", "org.reactivestreams").run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(LockObserver.class).hasBean("palsLockMeters").hasBean("palsServerLockTableMeters")
                    .hasSingleBean(HealthIndicator.class).doesNotHaveBean(ReactiveLockRegistry.class);
            assertThat(hasLocksEndpoint(context)).isTrue();
            lockedMethodLocks(context);
        });
    }

    @Test
    void withoutR2dbcEveryPartIsThereButTheReactiveTransactionLocksAndMethodsStillLock() {
        without("io.r2dbc", "org.springframework.r2dbc").run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(ReactiveLockRegistry.class)
                    .doesNotHaveBean(ReactiveTransactionLocks.class);
            assertThat(hasLocksEndpoint(context)).isTrue();
            lockedMethodLocks(context);
        });
    }
}
