package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.HeldLock;
import dev.pals.LockException;
import dev.pals.LockKey;
import dev.pals.LockRegistry;
import dev.pals.spring.actuate.LockDatabaseHealthIndicator;
import dev.pals.spring.autoconfigure.LockConnectionPool;
import dev.pals.spring.autoconfigure.PalsActuatorAutoConfiguration;
import dev.pals.testing.TestDatabase;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** The starter's properties, each observed where it acts: the registry's handles, the server, the pool. */
class StarterPropertiesTest extends StarterTestSupport {

    @TempDir
    static Path tempDir;
    /**
     * A server of this class's own whose hba asks every role but the superuser for its password:
     * the shared server may trust every connection, where no password could be wrong. Started
     * once for the password tests, which each make a role of their own.
     */
    private static EmbeddedPostgres passwordServer;

    @BeforeAll
    static void startPasswordServer() throws IOException {
        Path hba = Files.writeString(tempDir.resolve("pg_hba.conf"), "local all all trust\n"
                + "host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n");
        passwordServer = EmbeddedPostgres.builder().setServerConfig("hba_file", hba.toString()).start();
    }

    @AfterAll
    static void stopPasswordServer() throws IOException {
        passwordServer.close();
    }

    @Test
    void blockingFalseMakesRegistryHandlesTryOnceInsteadOfWaitingTheAcquireTimeout() {
        ApplicationContextRunner service = instance().withPropertyValues("pals.blocking=false",
                "pals.acquire-timeout=5s");
        twoInstances(service, (one, two) -> {
            try (HeldLock held = one.getBean(LockRegistry.class).lock("report").hold()) {
                // a handle that waited would time out after 5s instead of failing as contended
                assertThatThrownBy(() -> two.getBean(LockRegistry.class).lock("report").hold())
                        .isInstanceOfSatisfying(AcquireFailureException.class,
                                e -> assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED));
            }
        });
    }

    @Test
    void lockConnectionIdleLongerThanTheIdleTimeoutGoesBackToTheLockPool() {
        instance().withPropertyValues("pals.idle-timeout=200ms").run(context -> {
            LockRegistry registry = context.getBean(LockRegistry.class);
            HikariDataSource pool = (HikariDataSource) context.getBean(LockConnectionPool.class).getDataSource();
            AdvisoryLock lock = registry.lock("idle");
            assertThat(lock.tryAcquire()).isTrue();
            assertThat(pool.getHikariPoolMXBean().getActiveConnections()).isEqualTo(1);

            lock.release();

            // the core's default of 10s would keep it out well beyond this bound
            await().atMost(Duration.ofSeconds(5)).until(() -> registry.openConnections() == 0
                    && pool.getHikariPoolMXBean().getActiveConnections() == 0);
        });
    }

    @Test
    void applicationNameNamesTheLockSessionsInPgStatActivity() {
        String name = TestDatabase.uniqueName("billing-locks-");
        instance().withPropertyValues("pals.datasource.application-name=" + name).run(context -> {
            AdvisoryLock lock = context.getBean(LockRegistry.class).lock("named");
            assertThat(lock.tryAcquire()).isTrue();

            assertThat(holder(lock.key(), "application_name")).isEqualTo(name);
            lock.release();
        });
    }

    @Test
    void withTheHealthContributorDisabledThereIsNoAdvisoryLocksHealthIndicator() {
        instance().withConfiguration(AutoConfigurations.of(PalsActuatorAutoConfiguration.class))
                .withPropertyValues("management.health.advisorylocks.enabled=false").run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(LockRegistry.class)
                            .doesNotHaveBean(LockDatabaseHealthIndicator.class)
                            .doesNotHaveBean("advisoryLocksHealthIndicator");
                });
    }

    @Test
    void lockPoolConnectsWithThePasswordOfItsOwnRole() throws Exception {
        EmbeddedPostgres server = passwordServer;
        String role = createRole(server, "s3cret");
        passwordService(server, role, "s3cret").run(context -> {
            AdvisoryLock lock = context.getBean(LockRegistry.class).lock("guarded");
            assertThat(lock.tryAcquire()).isTrue();

            assertThat(holder(server, lock.key())).isEqualTo(role);
            lock.release();
        });
    }

    @Test
    void wrongLockPasswordFailsTheAcquisitionSayingAuthenticationFailed() throws Exception {
        EmbeddedPostgres server = passwordServer;
        String role = createRole(server, "s3cret");
        passwordService(server, role, "wrong").run(context -> {
            assertThat(context).hasNotFailed();
            assertThatThrownBy(() -> context.getBean(LockRegistry.class).lock("guarded").tryAcquire())
                    .isInstanceOf(LockException.class)
                    .hasMessageContaining("no connection to the lock database could be opened")
                    .hasStackTraceContaining("password authentication failed for user \"" + role + "\"");
        });
    }

    @Test
    void unreachableLockDatabaseFailsEachAcquisitionWithinTheConfiguredConnectionTimeout() {
        instance().withPropertyValues("pals.datasource.url=jdbc:postgresql://127.0.0.1:1/nowhere",
                "pals.datasource.hikari.connection-timeout=500").run(context -> {
                    LockRegistry registry = context.getBean(LockRegistry.class);
                    for (String name : new String[] {"first", "second"}) {
                        long start = System.nanoTime();
                        assertThatThrownBy(() -> registry.lock(name).tryAcquire()).isInstanceOf(LockException.class)
                                .hasMessageContaining("no connection to the lock database could be opened")
                                .hasMessageContaining("nothing is held");
                        // 500ms and generous slack, far below the starter's default of 5s
                        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(4));
                    }
                });
    }

    private static String createRole(EmbeddedPostgres server, String password) throws Exception {
        String role = TestDatabase.uniqueName("locker_");
        try (Connection connection = server.getPostgresDatabase().getConnection();
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'");
        }
        return role;
    }

    /** The service's own pool as the superuser, the lock pool as {@code role}. */
    private ApplicationContextRunner passwordService(EmbeddedPostgres server, String role, String password) {
        return instance().withPropertyValues("spring.datasource.url=jdbc:postgresql://127.0.0.1:" + server.getPort()
                + "/postgres",
                "spring.datasource.username=postgres", "spring.datasource.password=",
                "pals.datasource.username=" + role, "pals.datasource.password=" + password,
                "pals.datasource.hikari.connection-timeout=1000");
    }

    private static String holder(EmbeddedPostgres server, LockKey key) throws Exception {
        try (Connection connection = server.getPostgresDatabase().getConnection()) {
            return holder(connection, key, "usename");
        }
    }

    private static String holder(LockKey key, String column) throws Exception {
        try (Connection connection = DB.connect()) {
            return holder(connection, key, column);
        }
    }

    private static String holder(Connection connection, LockKey key, String column) throws Exception {
        return TestDatabase.holderActivity(connection, key.classId(), key.objId(), key.objSubId(), column);
    }
}
