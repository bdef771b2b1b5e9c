package dev.pals.sample;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pals.LockRegistry;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/** A first run with nothing configured starts its own PostgreSQL. */
class EmbeddedModeTest {

    @Test
    void withoutADatabaseUrlTheServiceStartsOnAnEmbeddedPostgresql() {
        try (ConfigurableApplicationContext service = new SpringApplicationBuilder(SampleApplication.class)
                .run("--server.port=0", "--spring.main.banner-mode=off")) {
            assertThat(service.getEnvironment().getProperty("spring.datasource.url")).startsWith("jdbc:postgresql:");
            assertThat(service.getBean(Accounts.class).balance(1)).isZero();
            assertThat(service.getBean(LockRegistry.class).lock("first-run").tryAcquire()).isTrue();
        }
    }
}
