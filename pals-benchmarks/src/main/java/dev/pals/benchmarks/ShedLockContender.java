package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import net.javacrumbs.shedlock.core.DefaultLockingTaskExecutor;
import net.javacrumbs.shedlock.core.LockConfiguration;
import net.javacrumbs.shedlock.core.LockingTaskExecutor;
import net.javacrumbs.shedlock.core.SimpleLock;
import net.javacrumbs.shedlock.provider.jdbctemplate.JdbcTemplateLockProvider;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * ShedLock as its documentation sets it up for PostgreSQL: {@code JdbcTemplateLockProvider} on its
 * own {@code shedlock} table, with the database's clock ({@code usingDbTime()}), driven through
 * {@code LockingTaskExecutor}. A lock is a row; it never waits.
 */
final class ShedLockContender extends Contender {

    private static final Duration AT_MOST = Duration.ofMinutes(10);

    private final HikariDataSource pool;
    private final JdbcTemplateLockProvider provider;
    private final LockingTaskExecutor executor;

    ShedLockContender(HikariDataSource pool) {
        this.pool = pool;
        this.provider = new JdbcTemplateLockProvider(JdbcTemplateLockProvider.Configuration.builder()
                .withJdbcTemplate(new JdbcTemplate(pool))
                .usingDbTime()
                .build());
        this.executor = new DefaultLockingTaskExecutor(provider);
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
    public void close() {
        pool.close();
    }
}
