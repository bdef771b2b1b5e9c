package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.AdvisoryLock;
import dev.pals.LockRegistry;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/** This project through its public API, as a service uses it, at its default settings. */
final class RegistryContender extends Contender {

    /** The registry's and the starter's default. */
    static final int CONNECTIONS = 4;
    /**
     * The DataSource under the registry allows more, so that the connections counted are the ones
     * the registry chose to use rather than a cap the pool imposed.
     */
    static final int POOL_HEADROOM = 16;

    private final HikariDataSource pool;
    private final LockRegistry registry;

    RegistryContender(HikariDataSource pool) {
        this.pool = pool;
        this.registry = LockRegistry.builder(pool).maxConnections(CONNECTIONS).build();
    }

    LockRegistry registry() {
        return registry;
    }

    @Override
    @Nullable Held tryHold(String name) {
        AdvisoryLock lock = registry.lock(name);
        return lock.tryAcquire() ? lock::release : null;
    }

    @Override
    @Nullable Held hold(String name, Duration timeout) throws InterruptedException {
        AdvisoryLock lock = registry.lock(name);
        return lock.tryAcquire(timeout) ? lock::release : null;
    }

    @Override
    public void close() {
        registry.close();
        pool.close();
    }
}
