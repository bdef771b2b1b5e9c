package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.LockRegistry;
import dev.pals.shedlock.AdvisoryLockProvider;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import net.javacrumbs.shedlock.core.DefaultLockingTaskExecutor;
import net.javacrumbs.shedlock.core.LockConfiguration;
import net.javacrumbs.shedlock.core.LockProvider;
import net.javacrumbs.shedlock.core.LockingTaskExecutor;
import net.javacrumbs.shedlock.core.SimpleLock;
import net.javacrumbs.shedlock.provider.jdbctemplate.JdbcTemplateLockProvider;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * ShedLock driven through {@code LockingTaskExecutor}, one configuration for every call, on one of
 * two providers: as its documentation sets it up for PostgreSQL ({@code JdbcTemplateLockProvider}
 * on its own {@code shedlock} table, with the database's clock, {@code usingDbTime()}), or on
 * {@code pals-shedlock}'s advisory locks at the registry's default settings. The same calls on
 * both, so that the difference is the gain of switching. A lock never waits.
 */
final class ShedLockContender extends Contender {

    private static final Duration AT_MOST = Duration.ofMinutes(10);

    private final LockProvider provider;
    private final LockingTaskExecutor executor;
    /** What the provider runs on, closed in order after the run. */
    private final AutoCloseable[] resources;

    private ShedLockContender(LockProvider provider, AutoCloseable... resources) {
        this.provider = provider;
        this.executor = new DefaultLockingTaskExecutor(provider);
        this.resources = resources;
    }

    /** The table provider on {@code pool}. */
    static ShedLockContender onTable(HikariDataSource pool) {
        return new ShedLockContender(new JdbcTemplateLockProvider(JdbcTemplateLockProvider.Configuration.builder()
                .withJdbcTemplate(new JdbcTemplate(pool))
                .usingDbTime()
                .build()), pool);
    }

    /** {@code pals-shedlock}'s provider on a registry of {@code pool}. */
    static ShedLockContender onAdvisoryLocks(HikariDataSource pool) {
        LockRegistry registry = LockRegistry.builder(pool).maxConnections(RegistryContender.CONNECTIONS).build();
        AdvisoryLockProvider provider = new AdvisoryLockProvider(registry);
        return new ShedLockContender(provider, provider, registry, pool);
    }

    @Override
    boolean tryRun(String name, Runnable body) throws Throwable {
        return executor.executeWithLock(() -> {
            body.run();
            return Boolean.TRUE;
        }, configuration(name)).wasExecuted();
    }

    /** Through the provider, the layer under the executor: the executor holds a lock only while its task runs. */
    @Override
    @Nullable Held tryHold(String name) {
        Optional<SimpleLock> lock = provider.lock(configuration(name));
        return lock.<Held>map(held -> held::unlock).orElse(null);
    }

    private static LockConfiguration configuration(String name) {
        return new LockConfiguration(Instant.now(), name, AT_MOST, Duration.ZERO);
    }

    @Override
    public void close() throws Exception {
        for (AutoCloseable resource : resources) {
            resource.close();
        }
    }
}
