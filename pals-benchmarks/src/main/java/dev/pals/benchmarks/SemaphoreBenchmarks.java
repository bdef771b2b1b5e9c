package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.AdvisorySemaphore;
import dev.pals.HeldLock;
import dev.pals.HeldPermit;
import dev.pals.LockRegistry;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Semaphore acquire: a permit taken and given back through {@link AdvisorySemaphore#hold()},
 * beside a lock of {@link LockRegistry#lock} for reference, each thread on a name of its own
 * (uncontended), {@code shared}: every thread on one semaphore of 4 permits, and
 * {@code handlePerCall}: the same with a new handle per call, as the starter makes. Run by
 * {@link #main}, which starts the server as the comparison does: {@code java -cp ...
 * dev.pals.benchmarks.SemaphoreBenchmarks [threads]}, or as scenario 8 of the comparison.
 */
@State(Scope.Benchmark)
@SuppressWarnings("NullAway.Init") // JMH runs @Setup before any benchmark method
public class SemaphoreBenchmarks {

    private HikariDataSource pool;
    private LockRegistry registry;
    private AdvisorySemaphore shared;

    @Setup(Level.Trial)
    public void start() {
        pool = BenchmarkDatabase.fromSystemProperties().pool("bench-semaphore", 8);
        registry = LockRegistry.builder(pool).namespace("bench").build();
        shared = registry.semaphore("shared-" + UUID.randomUUID(), 4);
    }

    @TearDown(Level.Trial)
    public void stop() {
        registry.close();
        pool.close();
    }

    /** Each thread's own names, so that no two threads contend. */
    @State(Scope.Thread)
    @SuppressWarnings("NullAway.Init")
    public static class Own {
        final String name = "bench-" + UUID.randomUUID();
        AdvisorySemaphore semaphore;

        @Setup(Level.Trial)
        public void start(SemaphoreBenchmarks benchmarks) {
            semaphore = benchmarks.registry.semaphore(name + "-semaphore", 4);
        }
    }

    @Benchmark
    public boolean lock(Own own) {
        try (HeldLock held = registry.lock(own.name).hold(java.time.Duration.ZERO)) {
            return held.isHeld();
        }
    }

    @Benchmark
    public boolean semaphore(Own own) {
        try (HeldPermit permit = own.semaphore.hold(java.time.Duration.ZERO)) {
            return permit.isHeld();
        }
    }

    @Benchmark
    public boolean sharedSemaphore() {
        try (HeldPermit permit = shared.hold(LockRegistry.FOREVER)) {
            return permit.isHeld();
        }
    }

    /** As the starter calls it: a new handle per call, on the one semaphore every thread uses. */
    @Benchmark
    public boolean handlePerCall() {
        try (HeldPermit permit = registry.semaphore(shared.name(), 4).hold(LockRegistry.FOREVER)) {
            return permit.isHeld();
        }
    }

    /** Adds the table of a semaphore acquisition to the comparison: median latencies, one thread. */
    static void report(Report report, BenchmarkDatabase database, boolean quick) throws RunnerException {
        double[] medians = SampleMedians.of(SemaphoreBenchmarks.class, database, quick, "lock", "semaphore");
        report.table("8. Semaphore acquire, uncontended, 1 thread",
                "`semaphore(name, 4).hold()` then close, against a lock's `hold()` then close. A permit is a lock; "
                        + "the difference is the check, in `pg_locks`, that every instance agrees on the number of "
                        + "permits. JMH, sample mode, one fork each.",
                "call", "median latency", "ratio to a lock");
        report.row("lock (`lock(name).hold()`)", Report.micros(medians[0]), Report.ratio(1));
        report.row("permit (`semaphore(name, 4).hold()`)", Report.micros(medians[1]),
                Report.ratio(medians[1] / medians[0]));
        report.endTable();
    }

    /** Without arguments, the comparison's table; with a number of threads, every benchmark on that many. */
    public static void main(String[] args) throws Exception {
        BenchmarkDatabase database = BenchmarkDatabase.start();
        if (args.length == 0) {
            Report report = new Report("Semaphores", List.of());
            report(report, database, Boolean.getBoolean("pals.bench.quick"));
            System.out.println(report.markdown());
            System.exit(0);
        }
        int threads = Integer.parseInt(args[0]);
        OptionsBuilder options = new OptionsBuilder();
        options.include(SemaphoreBenchmarks.class.getName())
                .threads(threads)
                .mode(Mode.AverageTime)
                .timeUnit(TimeUnit.MICROSECONDS)
                .forks(1)
                .warmupIterations(2)
                .warmupTime(TimeValue.seconds(2))
                .measurementIterations(3)
                .measurementTime(TimeValue.seconds(2))
                .jvmArgsAppend(database.forkArguments().toArray(String[]::new))
                .shouldFailOnError(true)
                .verbosity(VerboseMode.SILENT);
        for (RunResult result : new Runner(options.build()).run()) {
            System.out.printf("%-20s %d thread(s): %10.1f us/op (+- %.1f)%n", result.getParams().getBenchmark()
                    .replace(SemaphoreBenchmarks.class.getName() + ".", ""), threads,
                    result.getPrimaryResult().getScore(), result.getPrimaryResult().getScoreError());
        }
    }
}
