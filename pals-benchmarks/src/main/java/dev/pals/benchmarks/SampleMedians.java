package dev.pals.benchmarks;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/** Median latencies of single-threaded JMH benchmarks in sample mode, one fork each, on the benchmark server. */
final class SampleMedians {

    private SampleMedians() {
    }

    /**
     * Runs each of {@code methods} of {@code benchmarks} alone and returns their median latencies in
     * microseconds, in the order given; {@code quick} shortens the runs, to check the harness.
     */
    static double[] of(Class<?> benchmarks, BenchmarkDatabase database, boolean quick, String... methods)
            throws RunnerException {
        double[] medians = new double[methods.length];
        for (int i = 0; i < methods.length; i++) {
            RunResult result = new Runner(new OptionsBuilder()
                    .include(benchmarks.getName() + "." + methods[i] + "$")
                    .mode(Mode.SampleTime).timeUnit(TimeUnit.MICROSECONDS).threads(1)
                    .forks(1)
                    .warmupIterations(quick ? 1 : 3).warmupTime(TimeValue.seconds(quick ? 1 : 2))
                    .measurementIterations(quick ? 1 : 5).measurementTime(TimeValue.seconds(quick ? 1 : 2))
                    .jvmArgsAppend(database.forkArguments().toArray(String[]::new))
                    .shouldFailOnError(true).verbosity(VerboseMode.SILENT).build()).runSingle();
            medians[i] = result.getPrimaryResult().getStatistics().getPercentile(50);
        }
        return medians;
    }
}
