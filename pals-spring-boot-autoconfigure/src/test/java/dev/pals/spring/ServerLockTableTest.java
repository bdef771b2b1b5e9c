package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.AdvisoryLock;
import dev.pals.LockRegistry;
import dev.pals.spring.autoconfigure.PalsActuatorAutoConfiguration;
import dev.pals.spring.autoconfigure.PalsObservabilityAutoConfiguration;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ApplicationContext;

/** The server's lock table in the health details and the gauges, against a real server. */
@ExtendWith(OutputCaptureExtension.class)
class ServerLockTableTest extends StarterTestSupport {

    private static final int LOCKS = 500;
    private static final String WARNING = "The PostgreSQL server's lock table is";

    private ApplicationContextRunner withLockTable(String... properties) {
        return instance().withConfiguration(AutoConfigurations.of(MetricsAutoConfiguration.class,
                        CompositeMeterRegistryAutoConfiguration.class, SimpleMetricsExportAutoConfiguration.class,
                        PalsObservabilityAutoConfiguration.class, PalsActuatorAutoConfiguration.class))
                .withPropertyValues("pals.server-lock-table.read-interval=50ms")
                .withPropertyValues(properties);
    }

    @Test
    void gaugesAndHealthShowTheCapacityOfTheSettingsAndUseRisingByTheLocksTaken() {
        withLockTable().run(context -> {
            MeterRegistry meters = context.getBean(MeterRegistry.class);
            long capacity = Long.parseLong(show("max_locks_per_transaction"))
                    * (Long.parseLong(show("max_connections")) + Long.parseLong(show("max_prepared_transactions")));
            await().atMost(Duration.ofSeconds(10)).until(() -> gauge(meters, "pals.server.locks.capacity") == capacity);
            long before = (long) gauge(meters, "pals.server.locks.used");

            List<AdvisoryLock> held = take(context.getBean(LockRegistry.class), LOCKS);

            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat((long) gauge(meters, "pals.server.locks.used")).isEqualTo(before + LOCKS);
                assertThat(lockTable(context)).containsEntry("used", before + LOCKS).containsEntry("capacity", capacity);
            });
            held.forEach(AdvisoryLock::release);
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> (long) gauge(meters, "pals.server.locks.used") == before);
        });
    }

    @Test
    void aWarningIsLoggedOncePerCrossingOfTheThresholdAndClearsBelowItWhileHealthStaysUp(CapturedOutput output) {
        withLockTable().run(context -> {
            long used = (long) lockTable(context).get("used");
            long capacity = (long) lockTable(context).get("capacity");
            // halfway between the use now and the use with the locks taken
            double threshold = (used + LOCKS / 2.0) / capacity;
            withLockTable("pals.server-lock-table.warning-threshold=" + threshold).run(service -> {
                assertThat(lockTable(service)).doesNotContainKey("warning");
                List<AdvisoryLock> held = take(service.getBean(LockRegistry.class), LOCKS);

                await().atMost(Duration.ofSeconds(10)).until(() -> lockTable(service).containsKey("warning"));
                Health health = health(service);
                assertThat(health.getStatus()).as("a warning, not a reason to leave the load balancer").isEqualTo(Status.UP);
                // a later reading, still above: no second warning
                String readAt = (String) lockTable(service).get("readAt");
                await().atMost(Duration.ofSeconds(10)).until(() -> !readAt.equals(lockTable(service).get("readAt")));
                assertThat(warnings(output)).as("once per crossing, not per reading").isEqualTo(1);

                held.forEach(AdvisoryLock::release);
                await().atMost(Duration.ofSeconds(10)).until(() -> !lockTable(service).containsKey("warning"));
                held.forEach(lock -> assertThat(lock.tryAcquire()).isTrue());
                await().atMost(Duration.ofSeconds(10)).until(() -> lockTable(service).containsKey("warning"));
                assertThat(warnings(output)).as("the second crossing warns again").isEqualTo(2);
                held.forEach(AdvisoryLock::release);
            });
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "0%", "150%", "1.5", "-5%", "eighty", "%"})
    void aThresholdOutsideAboveZeroToOneHundredPercentFailsStartUpNamingTheProperty(String threshold) {
        withLockTable("pals.server-lock-table.warning-threshold=" + threshold).run(context -> {
            assertThat(context).hasFailed();
            assertThat(messages(context.getStartupFailure()))
                    .contains("pals.server-lock-table.warning-threshold").contains(threshold);
        });
    }

    private static List<AdvisoryLock> take(LockRegistry registry, int count) {
        List<AdvisoryLock> held = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            AdvisoryLock lock = registry.lock("table-" + i);
            assertThat(lock.tryAcquire()).isTrue();
            held.add(lock);
        }
        return held;
    }

    private static long warnings(CapturedOutput output) {
        return output.getOut().lines().filter(line -> line.contains(WARNING) && line.contains(" full (")).count();
    }

    private static Health health(ApplicationContext context) {
        Health health = context.getBean("advisoryLocksHealthIndicator", HealthIndicator.class).health();
        assertThat(health).isNotNull();
        return health;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> lockTable(ApplicationContext context) {
        return (Map<String, Object>) health(context).getDetails().get("serverLockTable");
    }

    private static double gauge(MeterRegistry meters, String name) {
        return meters.get(name).gauge().value();
    }

    private static String show(String setting) throws SQLException {
        try (Connection connection = DB.connect(); Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SHOW " + setting)) {
            row.next();
            return row.getString(1);
        }
    }

    private static String messages(Throwable failure) {
        StringBuilder all = new StringBuilder();
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            all.append(cause.getMessage()).append('\n');
        }
        return all.toString();
    }
}
