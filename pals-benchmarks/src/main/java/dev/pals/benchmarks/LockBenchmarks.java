package dev.pals.benchmarks;

import java.util.UUID;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Scenarios 1, 2 and 6: an acquire and a release of a lock nobody else wants, each thread on a
 * key of its own. {@link Comparison} runs it once with one thread for latency and once with 64
 * for throughput; any JMH command line can run it too, given the {@code -Dpals.bench.*}
 * properties that name the server.
 */
@State(Scope.Benchmark)
@SuppressWarnings("NullAway.Init") // JMH sets the @Param fields and runs @Setup before any benchmark method
public class LockBenchmarks {

    @SuppressWarnings("UnnecessaryLambda") // one shared no-op for the measured calls
    private static final Runnable NOTHING = () -> { };

    /** Which {@link Contender.Kind} to measure. */
    @Param({"floor", "pool-per-lock", "registry", "annotation", "shedlock", "spring-integration"})
    public String contender;

    /** Labels the contender's connections, so that the comparison can count them per scenario. */
    @Param("adhoc")
    public String scenario;

    /** The pool size of a library that takes a pool; 0 for one connection per thread. */
    @Param("0")
    public int connections;

    private Contender lock;

    @Setup(Level.Trial)
    public void start(BenchmarkParams params) throws Exception {
        int threads = params.getThreads();
        lock = Contender.create(Contender.Kind.of(contender), BenchmarkDatabase.fromSystemProperties(),
                ConnectionSampler.applicationName(scenario, contender), threads,
                connections == 0 ? threads : connections);
    }

    @TearDown(Level.Trial)
    public void stop() throws Exception {
        lock.close();
    }

    /** Each thread's own key, so that no two threads contend. */
    @State(Scope.Thread)
    public static class Key {
        final String name = "bench-" + UUID.randomUUID();
    }

    @Benchmark
    public boolean acquireAndRelease(Key key) throws Throwable {
        if (!lock.tryRun(key.name, NOTHING)) {
            throw new IllegalStateException(contender + " found its own uncontended key '" + key.name + "' taken");
        }
        return true;
    }
}
