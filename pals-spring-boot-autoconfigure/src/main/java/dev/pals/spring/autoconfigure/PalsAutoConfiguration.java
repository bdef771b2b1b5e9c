package dev.pals.spring.autoconfigure;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.pals.LockObserver;
import dev.pals.LockRegistry;
import dev.pals.spring.LockLostEvent;
import dev.pals.spring.LockScope;
import dev.pals.spring.aop.AdvisoryLockedAdvisor;
import dev.pals.spring.leader.Leadership;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import javax.sql.DataSource;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.context.LifecycleProperties;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.BindHandler;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.bind.handler.NoUnboundElementsBindHandler;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.boot.transaction.autoconfigure.TransactionAutoConfiguration;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.ImportRuntimeHints;
import org.springframework.context.annotation.Role;
import org.springframework.core.env.Environment;
import org.springframework.util.StringUtils;

/**
 * Auto-configuration of PALs: a lock pool of its own, a {@link LockRegistry} on it, and the
 * advisors behind {@code @AdvisoryLocked}. Runs after the service's DataSource and transaction
 * auto-configuration, which it leaves as they are.
 */
@AutoConfiguration(after = {DataSourceAutoConfiguration.class, TransactionAutoConfiguration.class})
@ConditionalOnClass(LockRegistry.class)
@ConditionalOnBooleanProperty(name = "pals.enabled", matchIfMissing = true)
@EnableConfigurationProperties(PalsProperties.class)
public final class PalsAutoConfiguration {

    private static final String ACQUIRE_TIMEOUT = "pals.acquire-timeout";

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

    /** Outside {@code @Transactional} on the same method: the lock wraps the transaction. */
    @Bean
    @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
    static AdvisoryLockedAdvisor palsSessionLockAdvisor(Environment environment,
            ObjectProvider<LockRegistry> registry, ObjectProvider<DataSource> dataSource) {
        return AdvisoryLockedAdvisor.of(LockScope.SESSION, acquireTimeout(environment), interruptOnLoss(environment),
                registry, dataSource);
    }

    /** Inside {@code @Transactional} on the same method: the lock lives in the transaction. */
    @Bean
    @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
    static AdvisoryLockedAdvisor palsTransactionLockAdvisor(Environment environment,
            ObjectProvider<LockRegistry> registry, ObjectProvider<DataSource> dataSource) {
        return AdvisoryLockedAdvisor.of(LockScope.TRANSACTION, acquireTimeout(environment), false, registry,
                dataSource);
    }

    private static boolean interruptOnLoss(Environment environment) {
        return Binder.get(environment).bind("pals.interrupt-on-loss", Boolean.class).orElse(false);
    }

    /** Advisors are made before properties beans can be injected, so they read the ones they need. */
    private static Duration acquireTimeout(Environment environment) {
        Duration timeout = Binder.get(environment).bind(ACQUIRE_TIMEOUT, Duration.class)
                .orElseGet(() -> new PalsProperties().getAcquireTimeout());
        if (timeout.isNegative()) {
            throw new InvalidConfigurationPropertyValueException(ACQUIRE_TIMEOUT, timeout,
                    "It must not be negative; use 0s not to wait");
        }
        if (timeout.compareTo(LockRegistry.LONGEST_WAIT) > 0) {
            throw new InvalidConfigurationPropertyValueException(ACQUIRE_TIMEOUT, timeout,
                    "It is longer than PostgreSQL's lock_timeout can wait (about 24 days); use a shorter duration, "
                    + "or timeout = \"forever\" on the methods that must wait without limit");
        }
        return timeout;
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

    /** A registry in this JVM, for tests without a database ({@code pals.in-memory=true}). */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnMissingBean(LockRegistry.class)
    @Conditional(LockDatabaseCondition.InMemory.class)
    static final class InMemoryRegistryConfiguration {

        private static final Log LOG = LogFactory.getLog(InMemoryRegistryConfiguration.class);

        @Bean(destroyMethod = "close")
        LockRegistry lockRegistry(PalsProperties properties, Environment environment,
                ObjectProvider<LockObserver> observers) {
            LOG.warn("PALs keeps its locks in memory (pals.in-memory=true): instances of the service do not "
                    + "exclude each other. Use it in tests only.");
            LockRegistry.Builder builder = LockRegistry.inMemory().namespace(namespace(properties, environment))
                    .blocking(properties.isBlocking());
            observers.orderedStream().forEach(builder::observer);
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
    @Conditional(LockDatabaseCondition.class)
    @ImportRuntimeHints(LockConnectionPoolRuntimeHints.class)
    static final class LockRegistryConfiguration {

        @Bean(destroyMethod = "close")
        LockConnectionPool palsLockConnectionPool(PalsProperties properties, Environment environment,
                ObjectProvider<JdbcConnectionDetails> connectionDetails) {
            PalsProperties.Datasource settings = properties.getDatasource();
            JdbcConnectionDetails service = LockDatabaseCondition.serviceConnection(connectionDetails.orderedStream());
            String property = "pals.datasource.url";
            String url = settings.getUrl();
            if (!StringUtils.hasText(url)) {
                property = "spring.datasource.url";
                url = environment.getProperty(property);
            }
            if (!StringUtils.hasText(url) && service != null) {
                property = "the service's connection details (" + service.getClass().getSimpleName() + ")";
                url = service.getJdbcUrl();
            }
            if (!StringUtils.hasText(url)) {
                // only where AOT processing generated the registry, which it does without knowing the URL
                throw new IllegalStateException("PALs takes its locks in a PostgreSQL database and none is named: "
                        + "set spring.datasource.url or pals.datasource.url to a jdbc:postgresql://host:5432/database "
                        + "URL, or give the service a service connection. This service was AOT-processed, which makes "
                        + "the lock registry without knowing the URL; without AOT it would have no registry instead.");
            }
            if (!url.startsWith("jdbc:postgresql:")) {
                throw new InvalidConfigurationPropertyValueException(property, withoutSecrets(url), "PALs takes PostgreSQL advisory "
                        + "locks, so its lock database must be PostgreSQL; set pals.datasource.url to a "
                        + "jdbc:postgresql://host:5432/database URL");
            }
            HikariConfig config = new HikariConfig();
            Binder.get(environment).bind("pals.datasource.hikari", Bindable.ofInstance(config),
                    new NoUnboundElementsBindHandler(BindHandler.DEFAULT));
            config.setJdbcUrl(url);
            config.setUsername(firstText(settings.getUsername(), environment.getProperty("spring.datasource.username"),
                    service == null ? null : service.getUsername()));
            config.setPassword(firstText(settings.getPassword(), environment.getProperty("spring.datasource.password"),
                    service == null ? null : service.getPassword()));
            // one beyond the registry's, so that the health check and the endpoint never wait behind held locks
            config.setMaximumPoolSize(settings.getMaximumPoolSize() + 1);
            if (config.getMinimumIdle() < 0) {
                // frugal: the registry keeps what it uses; idle lock connections are not needed
                config.setMinimumIdle(0);
            }
            if (!isSet(environment, "pals.datasource.hikari.connection-timeout")) {
                // an acquisition while the database is down fails within seconds, not HikariCP's 30
                config.setConnectionTimeout(Duration.ofSeconds(5).toMillis());
            }
            if (!isSet(environment, "pals.datasource.hikari.initialization-fail-timeout")) {
                // lazy: the service starts while its lock database is down; acquisitions fail loudly until it is up
                config.setInitializationFailTimeout(-1);
            }
            if (config.getPoolName() == null) {
                config.setPoolName("pals-lock-pool");
            }
            config.addDataSourceProperty("ApplicationName", applicationName(settings, environment));
            // the client's side of dead-peer detection for idle pooled connections; the registry bounds its statements itself
            config.getDataSourceProperties().putIfAbsent("tcpKeepAlive", "true");
            return new LockConnectionPool(new HikariDataSource(config));
        }

        private static boolean isSet(Environment environment, String property) {
            return Binder.get(environment).bind(property, String.class).isBound();
        }

        /** A JDBC URL may carry credentials in many forms; an error shows only its scheme. */
        static @Nullable String withoutSecrets(@Nullable String url) {
            if (url == null) {
                return null;
            }
            int subprotocolEnd = url.indexOf(':', url.indexOf(':') + 1);
            return subprotocolEnd < 0 ? "(not a JDBC URL)" : url.substring(0, subprotocolEnd + 1) + "...";
        }

        private static @Nullable String firstText(@Nullable String... candidates) {
            for (String candidate : candidates) {
                if (StringUtils.hasText(candidate)) {
                    return candidate;
                }
            }
            return null;
        }

        @Bean(destroyMethod = "close")
        LockRegistry lockRegistry(LockConnectionPool pool, PalsProperties properties, Environment environment,
                ApplicationEventPublisher events, ObjectProvider<LockObserver> observers) {
            LockRegistry.Builder builder = LockRegistry.builder(pool.getDataSource())
                    .namespace(namespace(properties, environment))
                    .blocking(properties.isBlocking())
                    .maxConnections(properties.getDatasource().getMaximumPoolSize())
                    .idleTimeout(properties.getIdleTimeout())
                    .lossCheckInterval(properties.getLossCheckInterval())
                    .networkTimeout(properties.getNetworkTimeout())
                    .silentClientTimeout(properties.getSilentClientTimeout())
                    .transactionCompletion(new SpringTransactionCompletion())
                    .lossListener((lock, cause) -> events.publishEvent(new LockLostEvent(pool, lock, cause)));
            observers.orderedStream().forEach(builder::observer);
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
