package dev.pals.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.AdvisoryLock;
import dev.pals.HeldLock;
import dev.pals.LeaseBounds;
import dev.pals.LockKey;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.StarterTestSupport;
import dev.pals.spring.actuate.AdvisoryLocksEndpoint;
import dev.pals.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.bind.UnboundConfigurationPropertiesException;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.boot.origin.Origin;
import org.springframework.boot.origin.OriginProvider;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Primary;
import org.springframework.core.Ordered;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.PlatformTransactionManager;

/** Every condition of the auto-configuration, against the real server. */
class PalsAutoConfigurationTest extends StarterTestSupport {

    @Test
    void serviceKeepsItsOwnDataSourceJdbcTemplateAndTransactionManagerBesideTheLockPool() {
        instance().run(context -> {
            assertThat(context).hasSingleBean(LockRegistry.class).hasSingleBean(LockConnectionPool.class)
                    .hasSingleBean(DataSource.class).hasSingleBean(JdbcTemplate.class)
                    .hasSingleBean(PlatformTransactionManager.class);
            assertThat(context.getBean(DataSource.class)).isInstanceOf(HikariDataSource.class)
                    .isNotSameAs(context.getBean(LockConnectionPool.class).getDataSource());
            assertThat(context.getBean(JdbcTemplate.class).queryForObject("SELECT 1", Integer.class)).isEqualTo(1);
        });
    }

    @Test
    void sessionAdvisorSitsJustOutsideTheDefaultTransactionOrderAndTransactionAdvisorInnermost() {
        instance().run(context -> {
            assertThat(context.getBean("palsSessionLockAdvisor", Ordered.class).getOrder())
                    .isEqualTo(Ordered.LOWEST_PRECEDENCE - 1);
            assertThat(context.getBean("palsTransactionLockAdvisor", Ordered.class).getOrder())
                    .isEqualTo(Ordered.LOWEST_PRECEDENCE);
        });
    }

    @Test
    void advisorOrderPropertyMovesTheSessionAdvisor() {
        instance().withPropertyValues("pals.advisor-order=5").run(context ->
                assertThat(context.getBean("palsSessionLockAdvisor", Ordered.class).getOrder())
                        .isEqualTo(5));
    }

    @Test
    void namespaceDefaultsToTheApplicationName() {
        instance().run(context -> {
            LockRegistry registry = context.getBean(LockRegistry.class);
            assertThat(registry.namespace()).isEqualTo(namespace);
            assertThat(registry.lock("job").key()).isEqualTo(LockKey.of(namespace, "job"));
        });
    }

    @Test
    void namespacePropertyOverridesTheApplicationName() {
        instance().withPropertyValues("pals.namespace=billing").run(context ->
                assertThat(context.getBean(LockRegistry.class).namespace()).isEqualTo("billing"));
    }

    @Test
    void lockPoolUsesItsOwnUrlAndShowsTheInstanceInPgStatActivity() {
        String lockDatabase = DB.createDatabase();
        instance().withPropertyValues("pals.datasource.url=" + lockDatabase, "pals.datasource.username=" + DB.user(),
                "pals.datasource.password=" + DB.password()).run(context -> {
                    assertThat(context).hasSingleBean(LockRegistry.class);
                    LockConnectionPool pool = context.getBean(LockConnectionPool.class);
                    assertThat(pool.getJdbcUrl()).isEqualTo(lockDatabase);
                    assertThat(pool.getApplicationName()).startsWith(namespace + "-locks@")
                            .endsWith(":" + ProcessHandle.current().pid());
                    AdvisoryLock lock = context.getBean(LockRegistry.class).lock("visible");
                    lock.tryAcquire();
                    assertThat(holderApplicationName(lock.key())).isEqualTo(pool.getApplicationName());
                    lock.release();
                });
    }

    @Test
    void hikariSettingsOfTheLockPoolAreBoundFromPalsDatasourceHikari() {
        instance().withPropertyValues("pals.datasource.hikari.connection-timeout=7000",
                "pals.datasource.maximum-pool-size=3").run(context -> {
                    HikariDataSource pool = (HikariDataSource) context.getBean(LockConnectionPool.class).getDataSource();
                    assertThat(pool.getConnectionTimeout()).isEqualTo(7000);
                    assertThat(pool.getMaximumPoolSize())
                            .as("the registry's 3, one for the health check and two for release wake-ups").isEqualTo(6);
                });
    }

    @Test
    void withoutAnyDatabaseUrlThereIsNoRegistryAndNoPool() {
        new org.springframework.boot.test.context.runner.ApplicationContextRunner()
                .withConfiguration(org.springframework.boot.autoconfigure.AutoConfigurations.of(
                        PalsAutoConfiguration.class))
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(LockRegistry.class)
                        .doesNotHaveBean(LockConnectionPool.class));
    }

    @Test
    void embeddedDatabaseFallbackIsNotALockDatabase() {
        bareRunner().run(context -> assertThat(context).hasNotFailed().hasSingleBean(DataSource.class)
                .doesNotHaveBean(LockRegistry.class).doesNotHaveBean(LockConnectionPool.class));
    }

    @Test
    void connectionDetailsBeanOfTheServiceNamesTheLockDatabase() {
        String lockDatabase = DB.createDatabase();
        bareRunner().withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=1s")
                .withBean(PalsConnectionDetails.class, () -> new PalsConnectionDetails() {
                    @Override
                    public String getJdbcUrl() {
                        return lockDatabase;
                    }

                    @Override
                    public String getUsername() {
                        return DB.user();
                    }

                    @Override
                    public String getPassword() {
                        return DB.password();
                    }
                }).run(context -> {
                    assertThat(context.getBean(LockConnectionPool.class).getJdbcUrl()).isEqualTo(lockDatabase);
                    assertThat(context.getBean(LockRegistry.class).lock("x").tryAcquire()).isTrue();
                });
    }

    @Test
    void serviceConnectionNamesTheLockDatabaseWithoutAnyUrlProperty() {
        bareRunner().withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=1s")
                .withBean(ContainerLikeConnectionDetails.class, ContainerLikeConnectionDetails::new).run(context -> {
                    assertThat(context.getBean(LockConnectionPool.class).getJdbcUrl()).isEqualTo(DB.url());
                    assertThat(context.getBean(LockRegistry.class).lock("x").tryAcquire()).isTrue();
                });
    }

    @Test
    void lockDataSourceOfTheServiceTakesTheLocksInsteadOfALockPool() {
        instance().withUserConfiguration(QualifiedLockDataSourceConfiguration.class).run(context -> {
            assertThat(context).doesNotHaveBean(LockConnectionPool.class);
            AdvisoryLock lock = context.getBean(LockRegistry.class).lock("qualified");
            assertThat(lock.tryAcquire()).isTrue();
            assertThat(holderApplicationName(lock.key())).isEqualTo(QualifiedLockDataSourceConfiguration.NAME);
            lock.release();
        });
    }

    @Test
    void lockDataSourceOfTheServiceAlsoServesTheEndpointAndTheHealthContributor() {
        instance().withUserConfiguration(QualifiedLockDataSourceConfiguration.class)
                .withConfiguration(AutoConfigurations.of(PalsActuatorAutoConfiguration.class))
                .withPropertyValues("management.endpoints.web.exposure.include=advisorylocks").run(context -> {
                    try (HeldLock held = context.getBean(LockRegistry.class).lock("seen-by-the-endpoint").hold()) {
                        assertThat(context.getBean(AdvisoryLocksEndpoint.class).advisoryLocks().instance().held())
                                .extracting(AdvisoryLocksEndpoint.LockDescriptor::name)
                                .containsExactly("seen-by-the-endpoint");
                        assertThat(context.getBean("advisoryLocksHealthIndicator", HealthIndicator.class).health()
                                .getStatus()).isEqualTo(Status.UP);
                    }
                });
    }

    @Test
    void serviceWithItsOwnDataSourceBeanGetsTheLockPoolFromSpringDatasourceUrl() {
        instance().withUserConfiguration(OwnDataSourceConfiguration.class).run(context -> {
            assertThat(context).hasSingleBean(LockRegistry.class);
            assertThat(context.getBean(LockConnectionPool.class).getJdbcUrl()).isEqualTo(DB.url());
            assertThat(context.getBean(LockRegistry.class).lock("x").tryAcquire()).isTrue();
        });
    }

    @Test
    void lockCredentialsOverrideTheServicesFieldByField() {
        // the service's own user does not exist; its pool connects lazily, the lock pool with the lock user
        instance().withPropertyValues("spring.datasource.username=no_such_user", "pals.datasource.username=" + DB.user())
                .run(context -> assertThat(context.getBean(LockRegistry.class).lock("x").tryAcquire()).isTrue());
    }

    @Test
    void unknownHikariSettingFailsStartUpNamingIt() {
        instance().withPropertyValues("pals.datasource.hikari.conection-timeout=5000").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).hasStackTraceContaining("pals.datasource.hikari.conection-timeout");
        });
    }

    @Test
    void aSilentClientTimeoutNotSafelyAboveTheLossDetectionFailsStartUpNamingTheProperties() {
        instance().withPropertyValues("pals.loss-check-interval=5s", "pals.network-timeout=5s",
                "pals.silent-client-timeout=15s").run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(context.getStartupFailure()).rootCause()
                            .hasMessageContaining("pals.silent-client-timeout")
                            .hasMessageContaining("pals.loss-check-interval (PT5S)")
                            .hasMessageContaining("pals.network-timeout (PT5S)");
                });
    }

    @Test
    void leasePropertiesReachTheRegistry() {
        instance().withPropertyValues("pals.loss-check-interval=500ms", "pals.network-timeout=1500ms",
                "pals.silent-client-timeout=30s").run(context -> {
                    LeaseBounds lease = context.getBean(LockRegistry.class).leaseBounds();
                    assertThat(lease.lossDetection()).isEqualTo(Duration.ofSeconds(2));
                    assertThat(lease.silentClientTimeout()).isEqualTo(Duration.ofSeconds(30));
                });
    }

    @Test
    void theLockPoolKeepsItsIdleConnectionsAliveWithTcpKeepalive() {
        instance().run(context -> assertThat(((HikariDataSource) context
                .getBean(LockConnectionPool.class).getDataSource()).getDataSourceProperties())
                .containsEntry("tcpKeepAlive", "true"));
    }

    @Test
    void registryOfTheServiceMakesTheAutoConfigurationBackOff() {
        instance().withUserConfiguration(OwnRegistryConfiguration.class).run(context -> {
            assertThat(context).hasSingleBean(LockRegistry.class).doesNotHaveBean(LockConnectionPool.class);
            assertThat(context.getBean(LockRegistry.class).namespace()).isEqualTo("own");
        });
    }

    @Test
    void disabledPalsConfiguresNothingSoLockedMethodsRunUnlocked() throws Exception {
        try (Connection holder = DB.connect(); PreparedStatement lock = holder.prepareStatement("SELECT pg_advisory_lock(?)")) {
            // another instance holds the method's lock: a locked call would be refused
            lock.setLong(1, LockKey.of(namespace, "job").value());
            lock.execute();
            instance().withPropertyValues("pals.enabled=false").withUserConfiguration(LockedJobConfiguration.class)
                    .run(context -> {
                        assertThat(context).doesNotHaveBean(LockRegistry.class).doesNotHaveBean(LockConnectionPool.class)
                                .doesNotHaveBean("palsSessionLockAdvisor").hasSingleBean(DataSource.class);
                        assertThat(context.getBean(LockedJob.class).tryRun()).isEqualTo("ran");
                    });
        }
    }

    @Test
    void nonPostgresqlUrlFailsStartUpNamingTheProperty() {
        instance().withPropertyValues("pals.datasource.url=jdbc:h2:mem:locks").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).rootCause()
                    .hasMessageContaining("pals.datasource.url").hasMessageContaining("jdbc:h2:...")
                    .hasMessageContaining("PostgreSQL");
        });
    }

    @Test
    void passwordInARejectedUrlIsNotRepeatedInTheError() {
        instance().withPropertyValues("pals.datasource.url=jdbc:mysql://db/app?user=app&password=s3cret").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).hasStackTraceContaining("jdbc:mysql:...")
                    .satisfies(failure -> assertThat(stackTrace(failure)).doesNotContain("s3cret"));
        });
    }

    private static String stackTrace(Throwable failure) {
        java.io.StringWriter text = new java.io.StringWriter();
        failure.printStackTrace(new java.io.PrintWriter(text));
        return text.toString();
    }

    @Test
    void negativeAcquireTimeoutFailsStartUpNamingTheProperty() {
        instance().withPropertyValues("pals.acquire-timeout=-5s").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).hasStackTraceContaining("pals.acquire-timeout")
                    .hasStackTraceContaining("must not be negative");
            assertThat(context.getStartupFailure()).rootCause()
                    .isInstanceOf(org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException.class);
        });
    }

    @Test
    void absurdAcquireTimeoutFailsStartUpNamingThePropertyAndTheFix() {
        instance().withPropertyValues("pals.acquire-timeout=365d").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).hasStackTraceContaining("pals.acquire-timeout")
                    .hasStackTraceContaining("24 days");
        });
    }

    @Test
    void misspeltPropertyFailsStartUpNamingIt() {
        instance().withPropertyValues("pals.aquire-timeout=5s").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).rootCause()
                    .isInstanceOf(UnboundConfigurationPropertiesException.class)
                    .hasMessage("The elements [pals.aquire-timeout] were left unbound.");
        });
    }

    @Test
    void lockPoolSizeBelowOneFailsStartUpNamingTheProperty() {
        instance().withPropertyValues("pals.datasource.maximum-pool-size=0").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).hasStackTraceContaining("pals.datasource")
                    .hasStackTraceContaining("maximum-pool-size").hasStackTraceContaining("must be at least 1");
        });
    }

    @Test
    void closingTheContextReleasesEveryLockAndClosesThePool() throws Exception {
        LockKey[] key = new LockKey[1];
        instance().run(context -> {
            AdvisoryLock lock = context.getBean(LockRegistry.class).lock("held-at-shutdown");
            assertThat(lock.tryAcquire()).isTrue();
            key[0] = lock.key();
        });
        assertThat(holderApplicationName(key[0])).isNull();
    }

    private static String holderApplicationName(LockKey key) throws Exception {
        try (Connection connection = DB.connect()) {
            return TestDatabase.holderActivity(connection, key.classId(), key.objId(), key.objSubId(),
                    "application_name");
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class OwnRegistryConfiguration {
        @Bean(destroyMethod = "close")
        LockRegistry ownRegistry(DataSource dataSource) {
            return LockRegistry.builder(dataSource).namespace("own").build();
        }
    }

    /** Connection details as Testcontainers' and Docker Compose's are, registered by their own class: they say where they come from. */
    static class ContainerLikeConnectionDetails implements JdbcConnectionDetails, OriginProvider {
        @Override
        public String getJdbcUrl() {
            return DB.url();
        }

        @Override
        public String getUsername() {
            return DB.user();
        }

        @Override
        public String getPassword() {
            return DB.password();
        }

        @Override
        public Origin getOrigin() {
            return new Origin() {
                @Override
                public String toString() {
                    return "a test container";
                }
            };
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class QualifiedLockDataSourceConfiguration {
        static final String NAME = TestDatabase.uniqueName("own-lock-pool-");

        @Bean
        @Primary
        HikariDataSource serviceDataSource() {
            return DB.dataSource(2);
        }

        @Bean
        @LockDataSource
        HikariDataSource ownLockDataSource() {
            HikariDataSource pool = new HikariDataSource();
            pool.setJdbcUrl(DB.url());
            pool.setUsername(DB.user());
            pool.setPassword(DB.password());
            pool.setMaximumPoolSize(3);
            pool.addDataSourceProperty("ApplicationName", NAME);
            return pool;
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class OwnDataSourceConfiguration {
        @Bean(destroyMethod = "close")
        HikariDataSource ownDataSource() {
            return DB.dataSource(2);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class LockedJobConfiguration {
        @Bean
        LockedJob lockedJob() {
            return new LockedJob();
        }
    }

    static class LockedJob {
        @AdvisoryLocked("job")
        public void run() {
        }

        @AdvisoryLocked(name = "job", blocking = false)
        public String tryRun() {
            return "ran";
        }
    }
}
