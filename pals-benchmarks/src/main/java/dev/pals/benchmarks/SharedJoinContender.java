package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.AdvisoryLock;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * This project's shared join: a shared handle joining a key that another handle of the same
 * registry holds shared, as the readers of one service do. The join asks the server whether an
 * exclusive request waits (so that readers cannot starve a writer elsewhere), which is what it
 * measures; measured in the interleaved line only.
 */
final class SharedJoinContender extends Contender {

    private final HikariDataSource pool;
    private final LockRegistry registry;
    /** The first reader of each name, which keeps it held shared for the joins. */
    private final Map<String, AdvisoryLock> readers = new ConcurrentHashMap<>();

    SharedJoinContender(HikariDataSource pool) {
        this.pool = pool;
        this.registry = LockRegistry.builder(pool).maxConnections(RegistryContender.CONNECTIONS).build();
    }

    @Override
    @Nullable Held tryHold(String name) {
        if (!readerHolds(name)) {
            return null;
        }
        AdvisoryLock joiner = registry.lock(name, LockOptions.shared());
        return joiner.tryAcquire() ? joiner::release : null;
    }

    @Override
    @Nullable Held hold(String name, Duration timeout) throws InterruptedException {
        if (!readerHolds(name)) {
            return null;
        }
        AdvisoryLock joiner = registry.lock(name, LockOptions.shared());
        return joiner.tryAcquire(timeout) ? joiner::release : null;
    }

    private boolean readerHolds(String name) {
        AdvisoryLock reader = readers.get(name);
        if (reader != null) {
            return true;
        }
        AdvisoryLock first = registry.lock(name, LockOptions.shared());
        if (!first.tryAcquire()) {
            return false;
        }
        readers.put(name, first);
        return true;
    }

    @Override
    public void close() {
        registry.close();
        pool.close();
    }
}
