package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Many virtual threads contending for few locks. The test sources compile for Java 17, so virtual
 * threads are reached by reflection; the build runs this class again on JDK 25 (profile
 * {@code jdk25-virtual-threads} in pals-core/pom.xml).
 */
class VirtualThreadsTest extends LockTestSupport {

    private static final int TASKS = 1_000;
    private static final Duration HOLD_WAIT = Duration.ofSeconds(60);
    // generous: the whole run is expected to take a few seconds
    private static final long RUN_LIMIT_SECONDS = 180;

    @BeforeEach
    void requireVirtualThreads() {
        if (Runtime.version().feature() >= 21) {
            return;
        }
        String jdk25 = System.getenv("JAVA25_HOME");
        if (jdk25 == null || !Files.isExecutable(Path.of(jdk25, "bin", "java"))) {
            throw Infrastructure.missing("The virtual-thread tests need a JDK 21+ at JAVA25_HOME (.ci/run finds one "
                    + "among the system's JDKs), to run this class again on it");
        }
        Assumptions.abort("Virtual threads need JDK 21+: the build runs this class again on the JDK at JAVA25_HOME");
    }

    @Test
    void exclusiveHoldsExcludeEachOtherAcrossAThousandVirtualThreads() throws Exception {
        LockRegistry registry = registry();
        List<Guarded> names = guardedNames(registry, 5);

        List<Boolean> virtual = runOnVirtualThreads(TASKS, task -> {
            Guarded name = names.get(task % names.size());
            whileHolding(registry.lock(name.name), name::visit);
        });

        assertThat(virtual).as("tasks ran on virtual threads").containsOnly(true);
        assertEachExcluded(names, TASKS / names.size());
    }

    @Test
    void exclusiveHoldsExcludeEachOtherAcrossRegistriesOnVirtualThreads() throws Exception {
        // separate registries contend in the server: virtual threads block in JDBC waits
        List<LockRegistry> registries = List.of(registry(), registry(), registry(), registry());
        List<Guarded> names = guardedNames(registries.get(0), 5);

        List<Boolean> virtual = runOnVirtualThreads(TASKS, task -> {
            LockRegistry registry = registries.get(task % registries.size());
            Guarded name = names.get(task % names.size());
            whileHolding(registry.lock(name.name), name::visit);
        });

        assertThat(virtual).as("tasks ran on virtual threads").containsOnly(true);
        assertEachExcluded(names, TASKS / names.size());
    }

    @Test
    void exclusiveHoldsExcludeSharedHoldsAcrossVirtualThreads() throws Exception {
        LockRegistry registry = registry();
        Guarded name = new Guarded("mixed", registry.lock("mixed").key());
        AtomicInteger sharedInside = new AtomicInteger();
        AtomicInteger sharedAlongsideExclusive = new AtomicInteger();

        List<Boolean> virtual = runOnVirtualThreads(TASKS, task -> {
            boolean exclusive = task % 5 == 0;
            LockOptions options = exclusive ? LockOptions.exclusive() : LockOptions.shared();
            whileHolding(registry.lock(name.name, options), () -> {
                // each side announces itself before looking for the other, so an overlap is always seen
                if (exclusive) {
                    name.enter();
                    if (sharedInside.get() != 0) {
                        sharedAlongsideExclusive.incrementAndGet();
                    }
                    name.exit();
                } else {
                    sharedInside.incrementAndGet();
                    if (name.inside.get() != 0) {
                        sharedAlongsideExclusive.incrementAndGet();
                    }
                    sharedInside.decrementAndGet();
                }
            });
        });

        assertThat(virtual).as("tasks ran on virtual threads").containsOnly(true);
        assertThat(name.maxInside.get()).as("most exclusive holders at once").isEqualTo(1);
        assertThat(name.count).as("exclusive holds").isEqualTo(TASKS / 5);
        assertThat(sharedAlongsideExclusive.get()).as("shared and exclusive holders at once").isZero();
        assertThat(grantedOnServer(name.key)).as("left held on the server").isZero();
    }

    @Test
    void aThousandVirtualThreadsOnDistinctKeysShareTheRegistrysConnections() throws Exception {
        LockRegistry registry = registry();
        AtomicInteger refused = new AtomicInteger();

        List<Boolean> virtual = runOnVirtualThreads(TASKS, task -> {
            AdvisoryLock own = registry.lock("own-" + task);
            for (int round = 0; round < 5; round++) {
                if (!own.tryAcquire()) {
                    refused.incrementAndGet();
                } else if (!own.release()) {
                    refused.incrementAndGet();
                }
            }
        });

        assertThat(virtual).as("tasks ran on virtual threads").containsOnly(true);
        assertThat(refused.get()).as("tries or releases of uncontended keys that failed").isZero();
        assertThat(registry.openConnections()).isLessThanOrEqualTo(4);
    }

    private static List<Guarded> guardedNames(LockRegistry registry, int count) {
        List<Guarded> names = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String name = "name-" + i;
            names.add(new Guarded(name, registry.lock(name).key()));
        }
        return names;
    }

    private static void assertEachExcluded(List<Guarded> names, int holdsEach) throws SQLException {
        for (Guarded name : names) {
            assertThat(name.maxInside.get()).as("most holders at once of %s", name.name).isEqualTo(1);
            assertThat(name.count).as("holds of %s", name.name).isEqualTo(holdsEach);
            assertThat(grantedOnServer(name.key)).as("%s left held on the server", name.name).isZero();
        }
    }

    /**
     * Runs {@code tasks} tasks at once, one virtual thread each, and returns for each whether its
     * thread was virtual. Fails the test with the first task's failure.
     */
    private static List<Boolean> runOnVirtualThreads(int tasks, Task body) throws Exception {
        CountDownLatch start = new CountDownLatch(1);
        Method isVirtual = Thread.class.getMethod("isVirtual");
        List<Future<Boolean>> futures = new ArrayList<>();
        ExecutorService executor = newVirtualThreadPerTaskExecutor();
        try {
            for (int i = 0; i < tasks; i++) {
                int task = i;
                futures.add(executor.submit(() -> {
                    start.await();
                    body.run(task);
                    return (Boolean) isVirtual.invoke(Thread.currentThread());
                }));
            }
            start.countDown();
            List<Boolean> virtual = new ArrayList<>();
            for (Future<Boolean> future : futures) {
                virtual.add(future.get(RUN_LIMIT_SECONDS, TimeUnit.SECONDS));
            }
            return virtual;
        } finally {
            executor.shutdownNow();
            assertThat(executor.awaitTermination(60, TimeUnit.SECONDS)).as("virtual threads ended").isTrue();
        }
    }

    @SuppressWarnings("try") // the hold is there only to be closed
    private static void whileHolding(AdvisoryLock lock, Runnable body) {
        try (HeldLock held = lock.hold(HOLD_WAIT)) {
            body.run();
        }
    }

    private static ExecutorService newVirtualThreadPerTaskExecutor() throws ReflectiveOperationException {
        return (ExecutorService) Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
    }

    @FunctionalInterface
    private interface Task {
        void run(int task) throws Exception;
    }

    /** What the lock on one name guards: a plain counter, and who is inside. */
    private static final class Guarded {

        final String name;
        final LockKey key;
        final AtomicInteger inside = new AtomicInteger();
        final AtomicInteger maxInside = new AtomicInteger();
        // deliberately not atomic: lost updates would show a broken exclusion
        int count;

        Guarded(String name, LockKey key) {
            this.name = name;
            this.key = key;
        }

        void visit() {
            enter();
            exit();
        }

        void enter() {
            int now = inside.incrementAndGet();
            maxInside.accumulateAndGet(now, Math::max);
            int seen = count;
            // widens the window in which a second holder would lose this update
            Thread.yield();
            count = seen + 1;
        }

        void exit() {
            inside.decrementAndGet();
        }
    }
}
