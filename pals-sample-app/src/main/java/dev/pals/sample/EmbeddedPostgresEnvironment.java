package dev.pals.sample;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.context.aot.AbstractAotProcessor;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;
import org.springframework.util.StringUtils;

/**
 * Starts an embedded PostgreSQL (real server binaries from Maven Central) when no database is
 * configured, so that a first run needs nothing installed. One server per JVM: instances started
 * in the same JVM, as the demo does, share it as separate services would share a database.
 */
public final class EmbeddedPostgresEnvironment implements EnvironmentPostProcessor {

    private static final ReentrantLock START = new ReentrantLock();
    private static @Nullable EmbeddedPostgres server;

    @Override
    public void postProcessEnvironment(ConfigurableEnvironment environment, SpringApplication application) {
        // AOT processing, at build time, connects to nothing: the server would start for nothing
        if (StringUtils.hasText(environment.getProperty("spring.datasource.url"))
                || Boolean.getBoolean(AbstractAotProcessor.AOT_PROCESSING)) {
            return;
        }
        String url = start().getJdbcUrl("postgres", "postgres");
        environment.getPropertySources().addLast(new MapPropertySource("embeddedPostgres", Map.of(
                "spring.datasource.url", url, "spring.datasource.username", "postgres",
                "spring.datasource.password", "")));
    }

    /** The JVM's embedded server, started on first use and stopped when the JVM exits, after the services. */
    static EmbeddedPostgres start() {
        START.lock();
        try {
            if (server == null) {
                // stopped by Spring Boot's shutdown hook after it has closed the contexts it started, not by a
                // hook of its own that would race them, so that no service loses its connections while stopping
                EmbeddedPostgres started = EmbeddedPostgres.builder().setRegisterShutdownHook(false).start();
                SpringApplication.getShutdownHandlers().add(() -> close(started));
                server = started;
            }
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException("Could not start the embedded PostgreSQL; set spring.datasource.url "
                    + "(or SPRING_DATASOURCE_URL) to a PostgreSQL server instead", e);
        } finally {
            START.unlock();
        }
    }

    private static void close(EmbeddedPostgres started) {
        try {
            started.close();
        } catch (IOException e) {
            // the JVM is exiting; stopping the server is best effort
        }
    }
}
