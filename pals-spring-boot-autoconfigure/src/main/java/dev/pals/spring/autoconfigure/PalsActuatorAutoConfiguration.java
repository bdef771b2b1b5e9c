package dev.pals.spring.autoconfigure;

import dev.pals.LockRegistry;
import dev.pals.spring.actuate.AdvisoryLocksEndpoint;
import dev.pals.spring.actuate.LockDatabaseHealthIndicator;
import dev.pals.spring.actuate.ServerLockTable;
import dev.pals.spring.aop.AdvisoryLockedAutoConfiguration;
import dev.pals.spring.aop.LockedMethods;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.function.ToLongFunction;
import javax.sql.DataSource;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;

/**
 * Actuator for PALs, when the service has it: the {@code advisorylocks} endpoint and the
 * {@code advisoryLocks} health contributor; and the server's lock table, in the health details and,
 * with Micrometer, in gauges. Both read the lock database the auto-configured
 * registry locks in, through the lock pool or the service's {@link LockDataSource @LockDataSource}.
 */
@AutoConfiguration(after = {PalsAutoConfiguration.class, AdvisoryLockedAutoConfiguration.class})
@ConditionalOnClass(LockRegistry.class)
@ConditionalOnBean(LockRegistry.class)
@Conditional({LockDatabaseCondition.LockDatabaseBean.class, LockDatabaseCondition.NotInMemory.class})
public final class PalsActuatorAutoConfiguration {

    /** The lock database: the service's {@code @LockDataSource} if it gave one, else the lock pool. */
    private static DataSource lockDatabase(ObjectProvider<DataSource> lockDataSource,
            ObjectProvider<LockConnectionPool> pool) {
        DataSource qualified = lockDataSource.getIfAvailable();
        return qualified != null ? qualified : pool.getObject().getDataSource();
    }

    /**
     * Read-only, and exposed over HTTP only if the service exposes it, as every endpoint but health.
     * The endpoint's condition is on the method, so that it is only read once its classes are known
     * to be there: conditions of one class are all loaded before any is evaluated.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({Endpoint.class, ConditionalOnAvailableEndpoint.class})
    static final class EndpointConfiguration {

        @Bean
        @ConditionalOnMissingBean
        @ConditionalOnAvailableEndpoint
        AdvisoryLocksEndpoint advisoryLocksEndpoint(LockRegistry registry,
                @LockDataSource ObjectProvider<DataSource> lockDataSource, ObjectProvider<LockConnectionPool> pool,
                ObjectProvider<LockedMethods> lockedMethods) {
            return new AdvisoryLocksEndpoint(registry, lockDatabase(lockDataSource, pool), () -> lockedMethods
                    .orderedStream().flatMap(methods -> methods.constantNames().stream()).toList());
        }
    }

    /** On unless {@code management.health.advisorylocks.enabled=false}; its condition on the method, as above. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
    static final class HealthConfiguration {

        @Bean
        @ConditionalOnMissingBean(name = "advisoryLocksHealthIndicator")
        @ConditionalOnEnabledHealthIndicator("advisorylocks")
        LockDatabaseHealthIndicator advisoryLocksHealthIndicator(LockRegistry registry,
                @LockDataSource ObjectProvider<DataSource> lockDataSource, ObjectProvider<LockConnectionPool> pool,
                ObjectProvider<ServerLockTable> lockTable) {
            return new LockDatabaseHealthIndicator(registry, lockDatabase(lockDataSource, pool), lockTable.getIfAvailable());
        }
    }

    /** The server's lock table, read at most once per {@code pals.server-lock-table.read-interval}. */
    @Bean
    @ConditionalOnMissingBean
    ServerLockTable palsServerLockTable(@LockDataSource ObjectProvider<DataSource> lockDataSource,
            ObjectProvider<LockConnectionPool> pool, PalsProperties properties) {
        PalsProperties.LockTable settings = properties.getServerLockTable();
        return new ServerLockTable(lockDatabase(lockDataSource, pool), settings.warningRatio(), settings.getReadInterval());
    }

    /**
     * Gauges of the lock table: {@value #USED} and {@value #CAPACITY} (NaN until the server first
     * answers). A scrape that finds the reading stale reads it again, so the gauges cost the server
     * no more than the health check does.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(MeterBinder.class)
    static final class LockTableMetersConfiguration {

        static final String USED = "pals.server.locks.used";
        static final String CAPACITY = "pals.server.locks.capacity";

        @Bean
        @ConditionalOnMissingBean(name = "palsServerLockTableMeters")
        MeterBinder palsServerLockTableMeters(ServerLockTable lockTable) {
            return meters -> {
                Gauge.builder(USED, lockTable, table -> value(table, ServerLockTable.Usage::used))
                        .description("Entries in use in the PostgreSQL server's shared lock table, by every client")
                        .register(meters);
                Gauge.builder(CAPACITY, lockTable, table -> value(table, ServerLockTable.Usage::capacity))
                        .description("Entries the PostgreSQL server's shared lock table is sized for "
                                + "(max_locks_per_transaction * (max_connections + max_prepared_transactions))")
                        .register(meters);
            };
        }

        private static double value(ServerLockTable table, ToLongFunction<ServerLockTable.Usage> figure) {
            ServerLockTable.Usage usage = table.usage();
            return usage == null ? Double.NaN : figure.applyAsLong(usage);
        }
    }
}
