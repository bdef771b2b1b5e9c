package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.LockRegistry;
import dev.pals.shedlock.AdvisoryLockProvider;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import net.javacrumbs.shedlock.core.DefaultLockingTaskExecutor;
import net.javacrumbs.shedlock.core.LockConfiguration;
import net.javacrumbs.shedlock.core.LockingTaskExecutor;
import net.javacrumbs.shedlock.core.SimpleLock;
import org.jspecify.annotations.Nullable;

/**
 * ShedLock as {@link ShedLockContender} drives it, {@code LockingTaskExecutor} with the same
 * configuration, on {@code pals-shedlock}'s provider instead of the table: the gain of switching
 * a ShedLock service, at the registry's default settings.
 */
final class PalsShedLockContender extends Contender {

    private static final Duration AT_MOST = Duration.ofMinutes(10);

    private final HikariDataSource pool;
    private final LockRegistry registry;
    private final AdvisoryLockProvider provider;
    private final LockingTaskExecutor executor;

    PalsShedLockContender(HikariDataSource pool) {
        this.pool = pool;
        this.registry = LockRegistry.builder(pool).maxConnections(RegistryContender.CONNECTIONS).build();
        this.provider = new AdvisoryLockProvider(registry);
        this.executor = new DefaultLockingTaskExecutor(provider);
    }

    @Override
    boolean tryRun(String name, Runnable body) throws Throwable {
        return executor.executeWithLock(() -> {
            body.run();
            return Boolean.TRUE;
        }, configuration(name)).wasExecuted();
    }

    /** Through the provider, as {@link ShedLockContender#tryHold} does. */
    @Override
    @Nullable Held tryHold(String name) {
        Optional<SimpleLock> lock = provider.lock(configuration(name));
        return lock.<Held>map(held -> held::unlock).orElse(null);
    }

    private static LockConfiguration configuration(String name) {
        return new LockConfiguration(Instant.now(), name, AT_MOST, Duration.ZERO);
    }

    @Override
    public void close() {
        provider.close();
        registry.close();
        pool.close();
    }
}
