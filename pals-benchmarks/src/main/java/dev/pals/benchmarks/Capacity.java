package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.benchmarks.Contender.Held;
import dev.pals.benchmarks.Contender.Kind;
import dev.pals.spring.actuate.ServerLockTable;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;

/**
 * Scenario 4: one JVM takes {@value #LOCKS} distinct locks (this project also {@value #LARGE}, from
 * {@value #LARGE_THREADS} threads) from
 * {@value #THREADS} threads and holds them all at once. Measured: how fast they were taken and
 * released, the heap they occupy while held, (by the sampler) the connections they occupy, and for
 * the large case the server's lock table while they are held and what reading it costs.
 */
final class Capacity {

    static final int LOCKS = 10_000;
    /** This project's large case; the benchmark server's lock table is sized for it (BenchmarkDatabase). */
    static final int LARGE = 100_000;
    /**
     * The large case in quick mode: a session's every statement costs the server more the more locks
     * it holds (the floor's own raw JDBC slows the same way), so 100,000 take minutes.
     */
    static final int QUICK_LARGE = 20_000;
    static final int THREADS = 8;
    /**
     * Threads for the large case: PostgreSQL scans every lock a session holds at the end of each
     * statement, so a statement costs more the more its session holds, and the tries of many threads
     * sent together on one session pay that scan once per batch instead of once each.
     */
    static final int LARGE_THREADS = 64;
    /** Readings of {@code pg_locks} timed while the large case is held. */
    private static final int READINGS = 5;

    /**
     * What one run found.
     *
     * @param lockTable the server's lock table while all were held, and the median time to read it
     */
    record Result(double locksPerSecond, double releasesPerSecond, long heapBytesPerLock,
            ServerLockTable.@Nullable Usage lockTable, double lockTableReadMillis) {
    }

    private final BenchmarkDatabase database;

    Capacity(BenchmarkDatabase database) {
        this.database = database;
    }

    Result measure(Kind kind) throws Exception {
        return measure(kind, LOCKS, "s4", THREADS);
    }

    /** {@code locks} locks taken by {@code threadCount} threads, on connections named for {@code scenario}. */
    Result measure(Kind kind, int locks, String scenario, int threadCount) throws Exception {
        List<ExecutorService> threads = new ArrayList<>();
        for (int i = 0; i < threadCount; i++) {
            threads.add(Executors.newSingleThreadExecutor());
        }
        try (Contender contender = Contender.create(kind, database,
                ConnectionSampler.applicationName(scenario, kind.id), threadCount);
                HikariDataSource observer = database.pool("pals-bench-observer", 1)) {
            // one round on other names first, so that classes, pools and caches are warm
            run(threads, kind, contender, "warm", Math.min(locks, LOCKS));
            long heapBefore = heapAfterGc();
            long start = System.nanoTime();
            List<List<Held>> held = takeAll(threads, kind, contender, "cap", locks);
            double seconds = (System.nanoTime() - start) / 1e9;
            long heapHeld = heapAfterGc();
            // a read interval of 1 ns: every call asks the server, as a health check would once per interval
            ServerLockTable table = new ServerLockTable(observer, 0.8, Duration.ofNanos(1));
            ServerLockTable.Usage usage = null;
            long[] reads = new long[READINGS];
            for (int i = 0; i < READINGS; i++) {
                long readStart = System.nanoTime();
                usage = table.usage();
                reads[i] = System.nanoTime() - readStart;
            }
            long releaseStart = System.nanoTime();
            releaseAll(threads, held);
            double releaseSeconds = (System.nanoTime() - releaseStart) / 1e9;
            return new Result(locks / seconds, locks / releaseSeconds, (heapHeld - heapBefore) / locks, usage,
                    new Samples(reads).medianMicros() / 1_000);
        } finally {
            threads.forEach(ExecutorService::shutdownNow);
        }
    }

    private static void run(List<ExecutorService> threads, Kind kind, Contender contender, String prefix, int locks)
            throws Exception {
        releaseAll(threads, takeAll(threads, kind, contender, prefix, locks));
    }

    /** Every thread's share, taken, once all threads are done. */
    private static List<List<Held>> takeAll(List<ExecutorService> threads, Kind kind, Contender contender,
            String prefix, int locks) throws Exception {
        List<List<Held>> held = new ArrayList<>();
        for (Future<List<Held>> each : take(threads, kind, contender, prefix, locks)) {
            held.add(each.get());
        }
        return held;
    }

    /** Thread {@code i} takes share {@code i} and later releases it: some libraries insist on the same thread. */
    private static List<Future<List<Held>>> take(List<ExecutorService> threads, Kind kind, Contender contender,
            String prefix, int locks) {
        List<Future<List<Held>>> futures = new ArrayList<>();
        for (int thread = 0; thread < threads.size(); thread++) {
            int first = thread * (locks / threads.size());
            futures.add(threads.get(thread).submit(() -> {
                List<Held> mine = new ArrayList<>(locks / threads.size());
                for (int i = first; i < first + locks / threads.size(); i++) {
                    Held held = contender.tryHold(prefix + "-" + i);
                    if (held == null) {
                        throw new IllegalStateException(kind.id + " could not take free lock " + prefix + "-" + i);
                    }
                    mine.add(held);
                }
                return mine;
            }));
        }
        return futures;
    }

    private static void releaseAll(List<ExecutorService> threads, List<List<Held>> held) throws Exception {
        List<Future<?>> done = new ArrayList<>();
        for (int thread = 0; thread < threads.size(); thread++) {
            List<Held> share = held.get(thread);
            done.add(threads.get(thread).submit(() -> {
                for (Held each : share) {
                    each.release();
                }
                return null;
            }));
        }
        for (Future<?> each : done) {
            each.get();
        }
    }

    /** Runs this project's rows alone, {@value #LOCKS} and {@value #LARGE} locks, and prints them. */
    public static void main(String[] args) throws Exception {
        BenchmarkDatabase database = BenchmarkDatabase.start();
        try (ConnectionSampler sampler = new ConnectionSampler(database)) {
            Capacity capacity = new Capacity(database);
            for (int locks : new int[] {LOCKS, Boolean.getBoolean("pals.bench.quick") ? QUICK_LARGE : LARGE}) {
                String scenario = "s4-" + locks;
                Result result = capacity.measure(Kind.REGISTRY, locks, scenario, locks == LOCKS ? THREADS : LARGE_THREADS);
                System.out.printf(Locale.ROOT, "%,d locks: %,.0f acquired/s, %,.0f released/s, %d connections, "
                                + "%,d bytes of heap per lock, lock table %s, read in %.1f ms%n", locks,
                        result.locksPerSecond(), result.releasesPerSecond(),
                        sampler.peak(ConnectionSampler.applicationName(scenario, Kind.REGISTRY.id)),
                        result.heapBytesPerLock(), result.lockTable(), result.lockTableReadMillis());
            }
        }
        System.exit(0);
    }

    private static long heapAfterGc() {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            memory.gc();
        }
        return memory.getHeapMemoryUsage().getUsed();
    }
}
