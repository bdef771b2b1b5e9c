package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.AcquireFailureException;
import dev.pals.HeldLock;
import dev.pals.LockRegistry;
import dev.pals.spring.aop.AdvisoryLocks;
import dev.pals.spring.autoconfigure.LockConnectionPool;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** {@code pals.in-memory=true}: a service's locked methods under test without PostgreSQL. */
class InMemoryModeTest extends StarterTestSupport {

    /** A service with a locked method that checks its lock from inside. */
    static class Reports {
        @AdvisoryLocked(name = "'report:' + #id", blocking = false)
        public String produce(long id) {
            AdvisoryLocks.assertHeld();
            return "report " + id;
        }
    }

    /** A lock that lives in a transaction, which memory cannot hold. */
    static class Ledger {
        @AdvisoryLocked(name = "ledger", scope = LockScope.TRANSACTION)
        public void post() {
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Reports reports() {
            return new Reports();
        }

        @Bean
        Ledger ledger() {
            return new Ledger();
        }
    }

    /** No PostgreSQL URL anywhere: only the in-memory switch. */
    private ApplicationContextRunner inMemory() {
        return bareRunner().withPropertyValues("pals.in-memory=true", "spring.application.name=" + namespace)
                .withUserConfiguration(Fixture.class);
    }

    @Test
    void lockedMethodsRunAndAssertHeldWorksWithoutADatabase() {
        inMemory().run(context -> {
            assertThat(context).hasNotFailed().doesNotHaveBean(LockConnectionPool.class);
            assertThat(context.getBean(Reports.class).produce(7)).isEqualTo("report 7");
        });
    }

    @Test
    void aLockHeldElsewhereInTheServiceRefusesTheMethod() {
        inMemory().run(context -> {
            LockRegistry registry = context.getBean(LockRegistry.class);
            try (HeldLock held = registry.lock("report:7").hold()) {
                assertThatThrownBy(() -> context.getBean(Reports.class).produce(7))
                        .isInstanceOf(AcquireFailureException.class)
                        .satisfies(e -> assertThat(((AcquireFailureException) e).reason())
                                .isEqualTo(AcquireFailureException.Reason.CONTENDED));
            }
            assertThat(context.getBean(Reports.class).produce(7)).isEqualTo("report 7");
        });
    }

    @Test
    void aTransactionScopedMethodSaysItNeedsADatabase() {
        inMemory().run(context -> assertThatThrownBy(() -> context.getBean(Ledger.class).post())
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("in memory"));
    }

    @Test
    void theSwitchBindsAsAnyBooleanProperty() {
        bareRunner().withPropertyValues("pals.in-memory=on").withUserConfiguration(Fixture.class)
                .run(context -> assertThat(context.getBean(Reports.class).produce(1)).isEqualTo("report 1"));
    }
}
