package dev.pals.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.AcquireFailureException;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.testing.TestDatabase;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.jdbc.core.JdbcTemplate;

/** A service that adds only the starter, and a database URL, has working locks. */
class StarterSmokeTest {

    private static final TestDatabase DB = TestDatabase.get();

    @Test
    void serviceWithOnlyTheStarterLocksItsAnnotatedMethodsAndKeepsItsJdbcTemplate() {
        try (ConfigurableApplicationContext service = start(); ConfigurableApplicationContext other = start()) {
            assertThat(service.getBean(JdbcTemplate.class).queryForObject("SELECT 1", Integer.class)).isEqualTo(1);
            Report report = service.getBean(Report.class);
            assertThat(other.getBean(LockRegistry.class).lock("nightly-report").tryAcquire()).isTrue();

            assertThatThrownBy(report::run).isInstanceOf(AcquireFailureException.class);
        }
    }

    private static ConfigurableApplicationContext start() {
        SpringApplication application = new SpringApplication(SmokeApplication.class);
        return application.run("--spring.datasource.url=" + DB.url(), "--spring.datasource.username=" + DB.user(),
                "--spring.datasource.password=" + DB.password(), "--spring.application.name=smoke-test",
                "--spring.main.banner-mode=off");
    }

    @SpringBootApplication
    static class SmokeApplication {
        @Bean
        Report report() {
            return new Report();
        }
    }

    static class Report {
        @AdvisoryLocked(name = "nightly-report", blocking = false)
        public String run() {
            return "sent";
        }
    }
}
