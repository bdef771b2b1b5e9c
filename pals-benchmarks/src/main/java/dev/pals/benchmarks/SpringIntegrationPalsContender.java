package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.LockRegistry;
import dev.pals.spring.integration.AdvisoryLockRegistry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import org.jspecify.annotations.Nullable;

/**
 * Spring Integration 7's {@code LockRegistry} API on this project ({@code AdvisoryLockRegistry}),
 * called exactly as {@link SpringIntegrationContender} calls {@code JdbcLockRegistry}: what a
 * service gains by switching the registry bean and nothing else. The registry under it is
 * {@link RegistryContender}'s.
 */
final class SpringIntegrationPalsContender extends Contender {

    private final HikariDataSource pool;
    private final LockRegistry registry;
    private final AdvisoryLockRegistry locks;

    SpringIntegrationPalsContender(HikariDataSource pool) {
        this.pool = pool;
        this.registry = LockRegistry.builder(pool).maxConnections(RegistryContender.CONNECTIONS).build();
        this.locks = new AdvisoryLockRegistry(registry);
    }

    @Override
    @Nullable Held tryHold(String name) {
        Lock lock = locks.obtain(name);
        return lock.tryLock() ? lock::unlock : null;
    }

    @Override
    @Nullable Held hold(String name, Duration timeout) throws InterruptedException {
        Lock lock = locks.obtain(name);
        return lock.tryLock(timeout.toMillis(), TimeUnit.MILLISECONDS) ? lock::unlock : null;
    }

    @Override
    public void close() {
        locks.close();
        registry.close();
        pool.close();
    }
}
