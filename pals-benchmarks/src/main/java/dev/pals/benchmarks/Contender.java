package dev.pals.benchmarks;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One way of taking a lock, driven the same way by every scenario. Each instance is one client of
 * the lock server (one service instance): two instances of a contender contend as two services
 * would.
 */
abstract class Contender implements AutoCloseable {

    /** The contenders, in the order the table lists them. */
    enum Kind {
        FLOOR("floor", "floor: raw JDBC, one connection per thread", ""),
        POOL_PER_LOCK("pool-per-lock", "pool-per-lock (PALs' design, written in the harness)", ""),
        REGISTRY("registry", "**this project: LockRegistry**", ""),
        ANNOTATION("annotation", "**this project: @AdvisoryLocked proxy**", ""),
        /** The proxy with Micrometer's observations and meters on; measured in scenario 6 only. */
        ANNOTATION_OBSERVED("annotation-observed", "this project: @AdvisoryLocked proxy with Micrometer", ""),
        /**
         * The proxy with Micrometer's meters made through Observation objects
         * ({@code pals.observations=observations}, as with tracing on); measured in scenario 6 only.
         */
        ANNOTATION_OBSERVATIONS("annotation-observations",
                "this project: @AdvisoryLocked proxy with Micrometer Observations", ""),
        /**
         * The three proxies above on the starter's in-memory registry ({@code pals.in-memory=true}): what
         * the proxy and the metrics cost the calling thread, without the database's noise; scenario 6 only.
         */
        ANNOTATION_IN_MEMORY("annotation-in-memory", "this project: @AdvisoryLocked proxy, in-memory registry", ""),
        ANNOTATION_OBSERVED_IN_MEMORY("annotation-observed-in-memory",
                "this project: @AdvisoryLocked proxy with Micrometer, in-memory registry", ""),
        ANNOTATION_OBSERVATIONS_IN_MEMORY("annotation-observations-in-memory",
                "this project: @AdvisoryLocked proxy with Micrometer Observations, in-memory registry", ""),
        /** A shared handle joining a shared hold of the same registry; measured in the interleaved line only. */
        REGISTRY_SHARED_JOIN("registry-shared-join", "this project: LockRegistry, a shared join", ""),
        SHEDLOCK("shedlock", "ShedLock 7 LockingTaskExecutor (JdbcTemplate, usingDbTime)",
                "never waits; a taken lock skips the task"),
        SHEDLOCK_PALS("shedlock-pals", "ShedLock 7 LockingTaskExecutor on pals-shedlock",
                "never waits; a taken lock skips the task"),
        SPRING_INTEGRATION("spring-integration", "Spring Integration 7 JdbcLockRegistry", ""),
        /** The same Spring Integration calls on this project's AdvisoryLockRegistry: the gain of switching. */
        SPRING_INTEGRATION_PALS("spring-integration-pals", "Spring Integration 7 LockRegistry API on pals", "");

        final String id;
        final String label;
        /** Why this library cannot wait for a lock; empty when it can. */
        final String cannotWait;

        Kind(String id, String label, String cannotWait) {
            this.id = id;
            this.label = label;
            this.cannotWait = cannotWait;
        }

        /** The contenders every scenario compares. */
        static List<Kind> compared() {
            return Arrays.stream(values()).filter(kind -> kind != ANNOTATION_OBSERVED && kind != ANNOTATION_OBSERVATIONS
                    && kind != REGISTRY_SHARED_JOIN && !kind.inMemory())
                    .toList();
        }

        /** Whether its locks live in its own JVM only, so that no other instance sees them. */
        boolean inMemory() {
            return this == ANNOTATION_IN_MEMORY || this == ANNOTATION_OBSERVED_IN_MEMORY
                    || this == ANNOTATION_OBSERVATIONS_IN_MEMORY;
        }

        static Kind of(String id) {
            return Arrays.stream(values()).filter(kind -> kind.id.equals(id)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("No contender '" + id + "'"));
        }
    }

    /** A lock taken by {@link #tryHold} or {@link #hold}; released on the thread that took it. */
    @FunctionalInterface
    interface Held {
        void release() throws Exception;
    }

    /**
     * Makes a contender whose connections carry {@code applicationName}, sized for {@code threads}
     * concurrent callers where the library lets its user size it.
     */
    static Contender create(Kind kind, BenchmarkDatabase database, String applicationName, int threads)
            throws Exception {
        return create(kind, database, applicationName, threads, threads);
    }

    /**
     * As {@link #create(Kind, BenchmarkDatabase, String, int)}, with the pool of a library that takes
     * one sized to {@code poolSize}; the floor keeps a connection per thread and this project its
     * default of {@value RegistryContender#CONNECTIONS}.
     */
    static Contender create(Kind kind, BenchmarkDatabase database, String applicationName, int threads, int poolSize)
            throws Exception {
        return switch (kind) {
            case FLOOR -> new FloorContender(database, applicationName);
            case POOL_PER_LOCK -> new PoolPerLockContender(database.pool(applicationName, poolSize));
            case REGISTRY -> new RegistryContender(database.pool(applicationName, RegistryContender.POOL_HEADROOM));
            case ANNOTATION -> new AnnotationContender(database, applicationName, false, false, false);
            case ANNOTATION_OBSERVED -> new AnnotationContender(database, applicationName, true, false, false);
            case ANNOTATION_OBSERVATIONS -> new AnnotationContender(database, applicationName, true, true, false);
            case ANNOTATION_IN_MEMORY -> new AnnotationContender(database, applicationName, false, false, true);
            case ANNOTATION_OBSERVED_IN_MEMORY -> new AnnotationContender(database, applicationName, true, false, true);
            case ANNOTATION_OBSERVATIONS_IN_MEMORY -> new AnnotationContender(database, applicationName, true, true, true);
            case REGISTRY_SHARED_JOIN -> new SharedJoinContender(database.pool(applicationName,
                    RegistryContender.POOL_HEADROOM));
            case SHEDLOCK -> ShedLockContender.onTable(database.pool(applicationName, poolSize));
            case SHEDLOCK_PALS -> ShedLockContender.onAdvisoryLocks(database.pool(applicationName,
                    RegistryContender.POOL_HEADROOM));
            case SPRING_INTEGRATION -> new SpringIntegrationContender(database.pool(applicationName, poolSize));
            case SPRING_INTEGRATION_PALS -> new SpringIntegrationPalsContender(database.pool(applicationName,
                    RegistryContender.POOL_HEADROOM));
        };
    }

    /**
     * Takes the lock without waiting, runs {@code body} while holding it, releases it. By default
     * through {@link #tryHold}; a library whose lock lives for one call overrides it.
     *
     * @return false if another holder had it, so {@code body} did not run
     */
    boolean tryRun(String name, Runnable body) throws Throwable {
        Held held = tryHold(name);
        if (held == null) {
            return false;
        }
        try {
            body.run();
        } finally {
            held.release();
        }
        return true;
    }

    /** Takes the lock without waiting and keeps it; {@code null} if another holder has it. */
    abstract @Nullable Held tryHold(String name) throws Exception;

    /**
     * Waits up to {@code timeout} for the lock and keeps it; {@code null} on timeout.
     *
     * @throws UnsupportedOperationException if this library cannot wait ({@link Kind#cannotWait} says why)
     */
    @Nullable Held hold(String name, Duration timeout) throws Exception {
        throw new UnsupportedOperationException("This library cannot wait for a lock");
    }

    /** A bigint key for the contenders that use raw advisory-lock SQL: any well-spread hash will do. */
    static long rawKey(String name) {
        return name.hashCode() * 0x9E3779B97F4A7C15L;
    }
}
