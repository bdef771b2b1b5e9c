package dev.pals.spring.autoconfigure;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.pals.FencingTokens;
import dev.pals.LockObserver;
import dev.pals.LockRegistry;
import dev.pals.spring.LockLostEvent;
import dev.pals.spring.leader.Leadership;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import javax.sql.DataSource;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.context.LifecycleProperties;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.DataSourceProperties;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.boot.transaction.autoconfigure.TransactionAutoConfiguration;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.ImportRuntimeHints;
import org.springframework.core.env.Environment;
import org.springframework.core.io.ResourceLoader;
import org.springframework.util.StringUtils;

/**
 * Auto-configuration of PALs: a lock pool of its own and a {@link LockRegistry} on it. Runs after
 * the service's DataSource and transaction auto-configuration, which it leaves as they are. The
 * advisors behind {@code @AdvisoryLocked} are
 * {@link dev.pals.spring.aop.AdvisoryLockedAutoConfiguration}'s. With Micrometer's context
 * propagation on the class path, the registry's threads run a caller's asynchronous work in its
 * context (see {@link RegistryContextPropagation}).
 */
@AutoConfiguration(after = {DataSourceAutoConfiguration.class, TransactionAutoConfiguration.class})
@ConditionalOnClass(LockRegistry.class)
@ConditionalOnBooleanProperty(name = "pals.enabled", matchIfMissing = true)
@EnableConfigurationProperties(PalsProperties.class)
public final class PalsAutoConfiguration {

    /**
     * The graceful close of an auto-configured registry, given the shutdown phase's timeout
     * ({@code spring.lifecycle}, bound here as Boot binds it, whether or not its lifecycle
     * auto-configuration runs) less a second, so that the registry closes, releasing what is left,
     * before Spring stops waiting.
     */
    static LockRegistryShutdown shutdown(LockRegistry registry, Environment environment) {
        Duration phase = Binder.get(environment).bindOrCreate("spring.lifecycle", LifecycleProperties.class)
                .getTimeoutPerShutdownPhase();
        Duration margin = Duration.ofSeconds(1);
        return new LockRegistryShutdown(registry, phase.compareTo(margin) > 0 ? phase.minus(margin) : Duration.ZERO);
    }

    /** A leader election, when the service names its lock; without a lock database start-up fails and says so. */
    @Bean
    @ConditionalOnProperty(name = "pals.leader.name")
    Leadership palsLeadership(LockRegistry registry, PalsProperties properties, ApplicationEventPublisher events) {
        PalsProperties.Leader leader = properties.getLeader();
        String name = leader.getName();
        if (name == null || name.isBlank()) {
            throw new InvalidConfigurationPropertyValueException("pals.leader.name", name,
                    "It must not be blank; name the lock the leader holds, such as billing-leader");
        }
        return new Leadership(registry, name.trim(), leader.getRetryInterval(), events);
    }

    /** Namespaces qualify names: {@code pals.namespace}, else the application's name, else none. */
    private static @Nullable String namespace(PalsProperties properties, Environment environment) {
        String namespace = properties.getNamespace();
        if (!StringUtils.hasText(namespace)) {
            namespace = environment.getProperty("spring.application.name");
        }
        return StringUtils.hasText(namespace) ? namespace : null;
    }

    /** Fencing tokens when {@code pals.fencing-tokens} asks for them; off otherwise. */
    private static void fencingTokens(LockRegistry.Builder builder, PalsProperties properties) {
        FencingTokens setup = properties.getFencingTokens();
        if (setup != null) {
            builder.fencingTokens(setup);
        }
    }

    /** A registry in this JVM, for tests without a database ({@code pals.in-memory=true}). */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnMissingBean(LockRegistry.class)
    @Conditional(LockDatabaseCondition.InMemory.class)
    static final class InMemoryRegistryConfiguration {

        private static final Log LOG = LogFactory.getLog(InMemoryRegistryConfiguration.class);

        @Bean(destroyMethod = "close")
        LockRegistry lockRegistry(PalsProperties properties, Environment environment,
                ObjectProvider<LockObserver> observers, ResourceLoader resources) {
            LOG.warn("PALs keeps its locks in memory (pals.in-memory=true): instances of the service do not "
                    + "exclude each other. Use it in tests only.");
            LockRegistry.Builder builder = LockRegistry.inMemory().namespace(namespace(properties, environment))
                    .blocking(properties.isBlocking());
            observers.orderedStream().forEach(builder::observer);
            RegistryContextPropagation.apply(builder, resources.getClassLoader());
            fencingTokens(builder, properties);
            return builder.acquireTimeout(properties.getAcquireTimeout()).build();
        }

        @Bean
        LockRegistryShutdown palsLockRegistryShutdown(LockRegistry lockRegistry, Environment environment) {
            return shutdown(lockRegistry, environment);
        }
    }

    /**
     * The lock pool and registry, unless the service defines its own registry or keeps locks in memory.
     * Only this part needs HikariCP and Boot's JDBC support: without them the advisors stay, so that a
     * locked method fails start-up rather than running unlocked.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({HikariDataSource.class, JdbcConnectionDetails.class})
    @ConditionalOnMissingBean(LockRegistry.class)
    @Conditional({LockDatabaseCondition.class, LockDatabaseCondition.NotInMemory.class})
    @ImportRuntimeHints(LockConnectionPoolRuntimeHints.class)
    static final class LockRegistryConfiguration {

        @Bean
        @ConditionalOnMissingBean(PalsConnectionDetails.class)
        PropertiesPalsConnectionDetails palsConnectionDetails(PalsProperties properties,
                ObjectProvider<DataSourceProperties> service, ObjectProvider<JdbcConnectionDetails> connectionDetails) {
            return new PropertiesPalsConnectionDetails(properties.getDatasource(), service.getIfAvailable(),
                    LockDatabaseCondition.serviceConnection(connectionDetails.orderedStream()));
        }

        /**
         * The lock pool's HikariCP settings, {@code pals.datasource.hikari.*} bound over PALs' own
         * defaults; an unknown one fails start-up naming it.
         */
        @Bean
        @ConditionalOnMissingBean(annotation = LockDataSource.class)
        @ConfigurationProperties(prefix = "pals.datasource.hikari", ignoreUnknownFields = false)
        HikariConfig palsLockPoolConfig() {
            HikariConfig config = new HikariConfig();
            // frugal: the registry keeps what it uses; idle lock connections are not needed
            config.setMinimumIdle(0);
            // an acquisition while the database is down fails within seconds, not HikariCP's 30
            config.setConnectionTimeout(Duration.ofSeconds(5).toMillis());
            // lazy: the service starts while its lock database is down; acquisitions fail loudly until it is up
            config.setInitializationFailTimeout(-1);
            config.setPoolName("pals-lock-pool");
            // the client's side of dead-peer detection for idle pooled connections; the registry bounds its statements itself
            config.addDataSourceProperty("tcpKeepAlive", "true");
            return config;
        }

        /** The lock pool, unless the service gives a {@link LockDataSource @LockDataSource} DataSource of its own. */
        @Bean(destroyMethod = "close")
        @ConditionalOnMissingBean(annotation = LockDataSource.class)
        LockConnectionPool palsLockConnectionPool(PalsProperties properties, Environment environment,
                PalsConnectionDetails connectionDetails, @Qualifier("palsLockPoolConfig") HikariConfig config) {
            PalsProperties.Datasource settings = properties.getDatasource();
            String url = connectionDetails.getJdbcUrl();
            if (!url.startsWith("jdbc:postgresql:")) {
                String property = connectionDetails instanceof PropertiesPalsConnectionDetails fromProperties
                        ? fromProperties.urlOrigin()
                        : "the connection details (" + connectionDetails.getClass().getSimpleName() + ")";
                throw new InvalidConfigurationPropertyValueException(property, withoutSecrets(url), "PALs takes PostgreSQL advisory "
                        + "locks, so its lock database must be PostgreSQL; set pals.datasource.url to a "
                        + "jdbc:postgresql://host:5432/database URL");
            }
            HikariConfig pool = new HikariConfig();
            config.copyStateTo(pool);
            pool.setJdbcUrl(url);
            pool.setUsername(connectionDetails.getUsername());
            pool.setPassword(connectionDetails.getPassword());
            // one beyond the registry's, so that the health check and the endpoint never wait behind held locks, and
            // two for the registry's release wake-ups (a listener and a marker session, issue 21)
            pool.setMaximumPoolSize(settings.getMaximumPoolSize() + 3);
            pool.addDataSourceProperty("ApplicationName", applicationName(settings, environment));
            return new LockConnectionPool(new HikariDataSource(pool));
        }

        /** A JDBC URL may carry credentials in many forms; an error shows only its scheme. */
        static @Nullable String withoutSecrets(@Nullable String url) {
            if (url == null) {
                return null;
            }
            int subprotocolEnd = url.indexOf(':', url.indexOf(':') + 1);
            return subprotocolEnd < 0 ? "(not a JDBC URL)" : url.substring(0, subprotocolEnd + 1) + "...";
        }

        @Bean(destroyMethod = "close")
        LockRegistry lockRegistry(ObjectProvider<LockConnectionPool> pool,
                @LockDataSource ObjectProvider<DataSource> lockDataSource, PalsProperties properties,
                Environment environment, ApplicationEventPublisher events, ObjectProvider<LockObserver> observers,
                ResourceLoader resources) {
            DataSource qualified = lockDataSource.getIfAvailable();
            Object source = qualified != null ? qualified : pool.getObject();
            DataSource connections = qualified != null ? qualified : pool.getObject().getDataSource();
            LockRegistry.Builder builder = LockRegistry.builder(connections)
                    .namespace(namespace(properties, environment))
                    .blocking(properties.isBlocking())
                    .maxConnections(properties.getDatasource().getMaximumPoolSize())
                    .idleTimeout(properties.getIdleTimeout())
                    .lossCheckInterval(properties.getLossCheckInterval())
                    .networkTimeout(properties.getNetworkTimeout())
                    .silentClientTimeout(properties.getSilentClientTimeout())
                    .transactionCompletion(new SpringTransactionCompletion())
                    .lossListener((lock, cause) -> events.publishEvent(new LockLostEvent(source, lock, cause)));
            observers.orderedStream().forEach(builder::observer);
            RegistryContextPropagation.apply(builder, resources.getClassLoader());
            fencingTokens(builder, properties);
            builder.acquireTimeout(properties.getAcquireTimeout());
            try {
                return builder.build();
            } catch (IllegalArgumentException unsafe) {
                throw new InvalidConfigurationPropertyValueException("pals.silent-client-timeout",
                        properties.getSilentClientTimeout(), "it must exceed pals.loss-check-interval ("
                                + properties.getLossCheckInterval() + ") plus pals.network-timeout ("
                                + properties.getNetworkTimeout() + ") by as much again, at least 1s, so that a holder "
                                + "is told of a silent connection before PostgreSQL can free its locks: "
                                + unsafe.getMessage());
            }
        }

        @Bean
        LockRegistryShutdown palsLockRegistryShutdown(LockRegistry lockRegistry, Environment environment) {
            return shutdown(lockRegistry, environment);
        }

        private static String applicationName(PalsProperties.Datasource settings, Environment environment) {
            String configured = settings.getApplicationName();
            if (StringUtils.hasText(configured)) {
                return configured;
            }
            String application = environment.getProperty("spring.application.name", "application");
            return application + "-locks@" + hostName() + ":" + ProcessHandle.current().pid();
        }

        private static String hostName() {
            try {
                return InetAddress.getLocalHost().getHostName();
            } catch (UnknownHostException e) {
                return "unknown-host";
            }
        }
    }
}
