package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import dev.pals.LockRegistry;
import dev.pals.spring.autoconfigure.PalsAutoConfiguration;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.api.parallel.Resources;
import org.springframework.aot.generate.ClassNameGenerator;
import org.springframework.aot.generate.DefaultGenerationContext;
import org.springframework.aot.generate.InMemoryGeneratedFiles;
import org.springframework.aot.hint.RuntimeHints;
import org.springframework.aot.hint.predicate.ReflectionHintsPredicates;
import org.springframework.aot.hint.predicate.RuntimeHintsPredicates;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.aot.AbstractAotProcessor;
import org.springframework.context.aot.ApplicationContextAotGenerator;
import org.springframework.context.support.GenericApplicationContext;
import org.springframework.javapoet.ClassName;

/**
 * Ahead-of-time processing of a service that uses the starter, as {@code process-aot} runs it at
 * build time: what it generates, the hints a native image needs, and what it leaves alone.
 */
@ResourceLock(Resources.SYSTEM_PROPERTIES)
class AotProcessingTest extends StarterTestSupport {

    /** An argument whose property a lock name reads. */
    static class Order {
        private final String customerId;

        Order(String customerId) {
            this.customerId = customerId;
        }

        public String getCustomerId() {
            return customerId;
        }
    }

    /** A record whose accessor a lock name calls. */
    record Invoice(long number) {
    }

    /** An argument whose getter a lock name reads through an array. */
    static class Batch {
        public String getLabel() {
            return "";
        }
    }

    /** An argument whose getter a lock name reads through a list. */
    static class Parcel {
        public String getTracking() {
            return "";
        }
    }

    /** An argument no lock name reads. */
    static class Note {
        public String getText() {
            return "";
        }
    }

    @Target(ElementType.METHOD)
    @Retention(RetentionPolicy.RUNTIME)
    @AdvisoryLocked(name = "'batch:' + #p0[0].label")
    @interface BatchLock {
    }

    static class Orders {
        @AdvisoryLocked(name = "'customer:' + #order.customerId")
        public void ship(Order order, Note note) {
        }

        @AdvisoryLocked(name = "#root.methodName + ':' + #p0.number()")
        public void bill(Invoice invoice) {
        }

        @AdvisoryLocked(name = "nightly-report", blocking = false)
        public void report(Note note) {
        }

        @BatchLock
        public void close(Batch[] batches) {
        }

        @AdvisoryLocked(name = "'parcel:' + #parcels[0].tracking")
        public void send(List<Parcel> parcels) {
        }
    }

    @AdvisoryLocked(name = "'ledger:' + #id")
    static class Ledger {
        public void post(long id) {
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Orders orders() {
            return new Orders();
        }

        @Bean
        Ledger ledger() {
            return new Ledger();
        }
    }

    @Test
    void lockedMethodsAndTheArgumentsTheirNamesReadAreRegisteredForReflection() throws Exception {
        process(instance().withUserConfiguration(Fixture.class), (context, hints) -> {
            ReflectionHintsPredicates reflection = RuntimeHintsPredicates.reflection();
            assertThat(reflection.onMethodInvocation(Orders.class, "ship")).accepts(hints);
            assertThat(reflection.onMethodInvocation(Orders.class, "report")).accepts(hints);
            assertThat(reflection.onMethodInvocation(Ledger.class, "post")).accepts(hints);
            assertThat(reflection.onMethodInvocation(Order.class, "getCustomerId")).accepts(hints);
            assertThat(reflection.onMethodInvocation(Invoice.class, "number")).accepts(hints);
            assertThat(reflection.onMethodInvocation(Orders.class, "close")).accepts(hints);
            assertThat(reflection.onMethodInvocation(Batch.class, "getLabel")).accepts(hints);
            assertThat(reflection.onMethodInvocation(Parcel.class, "getTracking")).accepts(hints);
            assertThat(reflection.onMethodInvocation(rootClass(), "getMethodName")).accepts(hints);
            assertThat(reflection.onType(Note.class)).rejects(hints);
        });
    }

    @Test
    void theLockPoolsHikariConfigurationCanBeBoundAndCopiedInANativeImage() throws Exception {
        // without Spring Boot's DataSource, whose own binding would register HikariConfig's setters too
        ApplicationContextRunner locksOnly = new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(PalsAutoConfiguration.class))
                .withPropertyValues("pals.datasource.url=" + DB.url());
        process(locksOnly, (context, hints) -> {
            ReflectionHintsPredicates reflection = RuntimeHintsPredicates.reflection();
            assertThat(reflection.onMethodInvocation(HikariConfig.class, "setMaxLifetime")).accepts(hints);
            assertThat(reflection.onFieldAccess(HikariConfig.class, "maxPoolSize")).accepts(hints);
            assertThat(reflection.onFieldAccess(HikariConfig.class, "minIdle")).accepts(hints);
        });
    }

    @Test
    void withoutADatabaseUrlAtBuildTimeTheRegistryIsStillGeneratedAndNothingConnects() throws Exception {
        process(bareRunner().withUserConfiguration(Fixture.class), (context, hints) -> {
            assertThat(context.getBeanNamesForType(LockRegistry.class)).containsExactly("lockRegistry");
            assertThat(context.getBeanFactory().getSingletonNames())
                    .noneMatch(name -> name.equals("lockRegistry") || name.equals("palsLockConnectionPool"));
        });
    }

    @Test
    void aLockPoolWithoutADatabaseUrlWhichOnlyAotProcessingMakesFailsStartUpSayingWhatToSet() {
        // the registry's condition as AOT processing fixes it, in a run without a URL
        System.setProperty(AbstractAotProcessor.AOT_PROCESSING, "true");
        try {
            bareRunner().run(context -> assertThat(context).getFailure()
                    .hasStackTraceContaining("none is named: set spring.datasource.url or pals.datasource.url"));
        } finally {
            System.clearProperty(AbstractAotProcessor.AOT_PROCESSING);
        }
    }

    private static Class<?> rootClass() throws ClassNotFoundException {
        return Class.forName("dev.pals.spring.aop.LockNameTemplate$Root");
    }

    /** Runs AOT processing of the context {@code runner} prepares, as the build does, and hands over the result. */
    private static void process(ApplicationContextRunner runner, Processed then) throws Exception {
        System.setProperty(AbstractAotProcessor.AOT_PROCESSING, "true");
        try {
            runner.prepare(prepared -> {
                GenericApplicationContext context = (GenericApplicationContext) prepared.getSourceApplicationContext();
                DefaultGenerationContext generation = new DefaultGenerationContext(
                        new ClassNameGenerator(ClassName.get(AotProcessingTest.class)), new InMemoryGeneratedFiles());
                new ApplicationContextAotGenerator().processAheadOfTime(context, generation);
                then.accept(context, generation.getRuntimeHints());
            });
        } finally {
            System.clearProperty(AbstractAotProcessor.AOT_PROCESSING);
        }
    }

    @FunctionalInterface
    private interface Processed {
        void accept(GenericApplicationContext context, RuntimeHints hints) throws Exception;
    }
}
