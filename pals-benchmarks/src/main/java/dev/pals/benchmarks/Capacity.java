package dev.pals.benchmarks;

import dev.pals.benchmarks.Contender.Held;
import dev.pals.benchmarks.Contender.Kind;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Scenario 4: one JVM takes {@value #LOCKS} distinct locks from {@value #THREADS} threads and
 * holds them all at once. Measured: how fast they were taken, the heap they occupy while held,
 * and (by the sampler) the connections they occupy.
 */
final class Capacity {

    static final int LOCKS = 10_000;
    static final int THREADS = 8;

    /** What one run found. */
    record Result(double locksPerSecond, long heapBytesPerLock) {
    }

    private final BenchmarkDatabase database;

    Capacity(BenchmarkDatabase database) {
        this.database = database;
    }

    Result measure(Kind kind) throws Exception {
        List<ExecutorService> threads = new ArrayList<>();
        for (int i = 0; i < THREADS; i++) {
            threads.add(Executors.newSingleThreadExecutor());
        }
        try (Contender contender = Contender.create(kind, database,
                ConnectionSampler.applicationName("s4", kind.id), THREADS)) {
            // one round on other names first, so that classes, pools and caches are warm
            run(threads, kind, contender, "warm");
            long heapBefore = heapAfterGc();
            long start = System.nanoTime();
            List<List<Held>> held = takeAll(threads, kind, contender, "cap");
            double seconds = (System.nanoTime() - start) / 1e9;
            long heapHeld = heapAfterGc();
            releaseAll(threads, held);
            return new Result(LOCKS / seconds, (heapHeld - heapBefore) / LOCKS);
        } finally {
            threads.forEach(ExecutorService::shutdownNow);
        }
    }

    private static void run(List<ExecutorService> threads, Kind kind, Contender contender, String prefix)
            throws Exception {
        releaseAll(threads, takeAll(threads, kind, contender, prefix));
    }

    /** Every thread's share, taken, once all threads are done. */
    private static List<List<Held>> takeAll(List<ExecutorService> threads, Kind kind, Contender contender,
            String prefix) throws Exception {
        List<List<Held>> held = new ArrayList<>();
        for (Future<List<Held>> each : take(threads, kind, contender, prefix)) {
            held.add(each.get());
        }
        return held;
    }

    /** Thread {@code i} takes share {@code i} and later releases it: some libraries insist on the same thread. */
    private static List<Future<List<Held>>> take(List<ExecutorService> threads, Kind kind, Contender contender,
            String prefix) {
        List<Future<List<Held>>> futures = new ArrayList<>();
        for (int thread = 0; thread < THREADS; thread++) {
            int first = thread * (LOCKS / THREADS);
            futures.add(threads.get(thread).submit(() -> {
                List<Held> mine = new ArrayList<>(LOCKS / THREADS);
                for (int i = first; i < first + LOCKS / THREADS; i++) {
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
        for (int thread = 0; thread < THREADS; thread++) {
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

    private static long heapAfterGc() {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            memory.gc();
        }
        return memory.getHeapMemoryUsage().getUsed();
    }
}
