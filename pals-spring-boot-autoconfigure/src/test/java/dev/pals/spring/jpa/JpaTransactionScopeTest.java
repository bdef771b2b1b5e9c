package dev.pals.spring.jpa;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.LockScope;
import dev.pals.spring.StarterTestSupport;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.hibernate.autoconfigure.HibernateJpaAutoConfiguration;
import org.springframework.boot.persistence.autoconfigure.EntityScan;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.transaction.annotation.Transactional;

/** TRANSACTION scope takes its lock on the JDBC connection of a JPA transaction. */
class JpaTransactionScopeTest extends StarterTestSupport {

    private final ExecutorService executor = Executors.newCachedThreadPool();

    @AfterEach
    void stopExecutor() {
        executor.shutdownNow();
    }

    @Test
    void twoInstancesIncrementingOneEntityInTransactionScopeLoseNoUpdate() {
        String database = DB.createDatabase();
        ApplicationContextRunner instances = instance()
                .withConfiguration(AutoConfigurations.of(HibernateJpaAutoConfiguration.class))
                .withPropertyValues("spring.datasource.url=" + database, "spring.jpa.hibernate.ddl-auto=update",
                        "spring.datasource.hikari.maximum-pool-size=8")
                .withUserConfiguration(Fixture.class);
        twoInstances(instances, (one, two) -> {
            one.getBean(Counters.class).create(1);
            int threadsEach = 3;
            int rounds = 20;
            List<Future<?>> results = new ArrayList<>();
            for (int t = 0; t < threadsEach; t++) {
                for (AssertableApplicationContext instance : List.of(one, two)) {
                    Counters counters = instance.getBean(Counters.class);
                    results.add(executor.submit(() -> {
                        for (int i = 0; i < rounds; i++) {
                            counters.increment(1);
                        }
                        return null;
                    }));
                }
            }
            for (Future<?> result : results) {
                result.get(120, TimeUnit.SECONDS);
            }

            assertThat(one.getBean(Counters.class).total(1)).isEqualTo(threadsEach * 2L * rounds);
        });
    }

    @Configuration(proxyBeanMethods = false)
    @EntityScan(basePackageClasses = Counter.class)
    static class Fixture {
        @Bean
        Counters counters() {
            return new Counters();
        }
    }

    static class Counters {

        @PersistenceContext
        private EntityManager entityManager;

        @Transactional
        public void create(long id) {
            entityManager.persist(new Counter(id));
        }

        /** Reads the entity, then writes it: only the lock keeps concurrent callers apart. */
        @Transactional
        @AdvisoryLocked(name = "'counter:' + #id", scope = LockScope.TRANSACTION, timeout = "60s")
        public void increment(long id) {
            Counter counter = entityManager.find(Counter.class, id);
            counter.setTotal(counter.getTotal() + 1);
        }

        @Transactional(readOnly = true)
        public long total(long id) {
            return entityManager.find(Counter.class, id).getTotal();
        }
    }
}
