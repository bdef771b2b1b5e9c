package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import org.jspecify.annotations.Nullable;
import org.springframework.integration.jdbc.lock.DefaultLockRepository;
import org.springframework.integration.jdbc.lock.JdbcLockRegistry;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;

/**
 * Spring Integration's {@code JdbcLockRegistry} on {@code DefaultLockRepository} and its own
 * {@code INT_LOCK} table, at its defaults but for a lock cache large enough for scenario 4: a lock
 * is a row; a wait polls every 100 ms.
 */
final class SpringIntegrationContender extends Contender {

    private final HikariDataSource pool;
    private final DefaultLockRepository repository;
    private final JdbcLockRegistry registry;

    SpringIntegrationContender(HikariDataSource pool) {
        this.pool = pool;
        this.repository = new DefaultLockRepository(pool);
        repository.setTransactionManager(new DataSourceTransactionManager(pool));
        repository.afterPropertiesSet();
        repository.afterSingletonsInstantiated();
        repository.start();
        this.registry = new JdbcLockRegistry(repository);
        // far above the 20,000 names of scenario 4, whose concurrent obtains otherwise meet its eviction
        registry.setCacheCapacity(1_000_000);
    }

    @Override
    @Nullable Held tryHold(String name) {
        Lock lock = registry.obtain(name);
        return lock.tryLock() ? lock::unlock : null;
    }

    @Override
    @Nullable Held hold(String name, Duration timeout) throws InterruptedException {
        Lock lock = registry.obtain(name);
        return lock.tryLock(timeout.toMillis(), TimeUnit.MILLISECONDS) ? lock::unlock : null;
    }

    @Override
    public void close() {
        repository.stop();
        repository.close();
        pool.close();
    }
}
