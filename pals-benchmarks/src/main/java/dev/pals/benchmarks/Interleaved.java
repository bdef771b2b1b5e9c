package dev.pals.benchmarks;

import com.sun.management.ThreadMXBean;
import dev.pals.benchmarks.Contender.Kind;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Uncontended acquire + release measured for several contenders in turn, one call each per round,
 * on one thread: whatever the shared machine does to one contender it does to the others within
 * microseconds, so the ratios of their medians hold when absolute figures drift. It is how scenario
 * 1's ratio and scenario 6's few microseconds are judged.
 *
 * <p>The rounds run in several forks, separate JVMs, each cut into blocks: one JVM's compilation
 * can favour one contender for its whole life, and a noisy neighbour can weigh on one stretch of
 * rounds, so a figure is given with its spread over the forks' blocks, not from one series alone.
 *
 * <p>Each fork also counts the heap each call allocates on the calling thread, outside the timed
 * stretch: unlike the latency, that figure does not drift with the machine.
 */
final class Interleaved {

    @SuppressWarnings("UnnecessaryLambda") // one shared no-op for the measured calls
    private static final Runnable NOTHING = () -> { };

    private final BenchmarkDatabase database;
    private final int forks;
    private final int warmup;
    private final int blocks;
    private final int roundsPerBlock;
    /** Filled by {@link #measure}: bytes allocated per call on the calling thread, over every fork's rounds. */
    private final Map<Kind, Double> allocatedPerCall = new EnumMap<>(Kind.class);

    /**
     * {@code forks} JVMs, each warming up for {@code warmup} rounds, then measuring {@code blocks}
     * blocks of {@code roundsPerBlock} rounds.
     */
    Interleaved(BenchmarkDatabase database, int forks, int warmup, int blocks, int roundsPerBlock) {
        this.database = database;
        this.forks = forks;
        this.warmup = warmup;
        this.blocks = blocks;
        this.roundsPerBlock = roundsPerBlock;
    }

    /** Every contender's samples of every fork, its blocks in the same order for every contender. */
    Map<Kind, Samples> measure(List<Kind> kinds) throws IOException, InterruptedException {
        Map<Kind, List<long[]>> blocksOf = new EnumMap<>(Kind.class);
        kinds.forEach(kind -> blocksOf.put(kind, new ArrayList<>()));
        Map<Kind, Long> allocated = new EnumMap<>(Kind.class);
        for (int fork = 0; fork < forks; fork++) {
            Path output = Files.createTempFile("pals-interleaved-", ".bin");
            try {
                fork(kinds, output);
                read(kinds, output, blocksOf, allocated);
            } finally {
                Files.deleteIfExists(output);
            }
        }
        Map<Kind, Samples> result = new EnumMap<>(Kind.class);
        for (Kind kind : kinds) {
            Samples samples = new Samples(blocksOf.getOrDefault(kind, List.of()));
            result.put(kind, samples);
            allocatedPerCall.put(kind, allocated.getOrDefault(kind, 0L) / (double) samples.count());
        }
        return result;
    }

    /** The heap each contender's call allocated on the calling thread, in bytes, after {@link #measure}. */
    Map<Kind, Double> allocatedPerCall() {
        return allocatedPerCall;
    }

    private void fork(List<Kind> kinds, Path output) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(database.forkArguments());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Interleaved.class.getName(),
                output.toString(), Integer.toString(warmup), Integer.toString(blocks), Integer.toString(roundsPerBlock)));
        kinds.forEach(kind -> command.add(kind.name()));
        Process process = new ProcessBuilder(command).inheritIO().start();
        // a fork starts two Spring applications and measures for a minute or so at most
        if (!process.waitFor(10, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new IllegalStateException("An interleaved fork did not finish in 10 minutes");
        }
        if (process.exitValue() != 0) {
            throw new IllegalStateException("An interleaved fork failed with exit code " + process.exitValue());
        }
    }

    private void read(List<Kind> kinds, Path output, Map<Kind, List<long[]>> blocksOf, Map<Kind, Long> allocated)
            throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(output)))) {
            for (Kind kind : kinds) {
                for (int block = 0; block < blocks; block++) {
                    long[] nanos = new long[roundsPerBlock];
                    for (int i = 0; i < roundsPerBlock; i++) {
                        nanos[i] = in.readLong();
                    }
                    blocksOf.getOrDefault(kind, new ArrayList<>()).add(nanos);
                }
            }
            for (Kind kind : kinds) {
                allocated.merge(kind, in.readLong(), Long::sum);
            }
        }
    }

    /**
     * A fork: arguments output file, warmup rounds, blocks, rounds per block, then the kinds. It writes
     * each kind's nanoseconds per round, then each kind's bytes allocated over its measured rounds.
     */
    public static void main(String[] args) throws Throwable {
        Path output = Path.of(args[0]);
        int warmup = Integer.parseInt(args[1]);
        int blocks = Integer.parseInt(args[2]);
        int rounds = blocks * Integer.parseInt(args[3]);
        List<Kind> kinds = Arrays.stream(args, 4, args.length).map(Kind::valueOf).toList();
        long[] allocated = new long[kinds.size()];
        long[][] samples = run(BenchmarkDatabase.fromSystemProperties(), kinds, warmup, rounds, allocated);
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(output)))) {
            for (long[] series : samples) {
                for (long nanos : series) {
                    out.writeLong(nanos);
                }
            }
            for (long bytes : allocated) {
                out.writeLong(bytes);
            }
        }
        System.exit(0);
    }

    /** Runs the rounds; adds to {@code allocated}, by kind, the bytes each measured call allocated on this thread. */
    private static long[][] run(BenchmarkDatabase database, List<Kind> kinds, int warmup, int rounds, long[] allocated)
            throws Throwable {
        ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        if (!threads.isThreadAllocatedMemorySupported() || !threads.isThreadAllocatedMemoryEnabled()) {
            // the counter would read -1, and every call would seem to allocate nothing
            throw new IllegalStateException("This JVM does not count the memory each thread allocates "
                    + "(ThreadMXBean.isThreadAllocatedMemoryEnabled() is false), which the interleaved line reports; "
                    + "run the benchmark on a JVM that does, as HotSpot does by default");
        }
        List<Contender> contenders = new ArrayList<>();
        try {
            for (Kind kind : kinds) {
                contenders.add(Contender.create(kind, database, ConnectionSampler.applicationName("s1p", kind.id), 1));
            }
            long[][] samples = new long[kinds.size()][rounds];
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < kinds.size(); i++) {
                order.add(i);
            }
            for (int round = -warmup; round < rounds; round++) {
                // a fresh order each round, so that no contender tends to follow the same other one
                Collections.shuffle(order, ThreadLocalRandom.current());
                for (int index : order) {
                    String name = "interleaved-" + kinds.get(index).id;
                    long allocatedBefore = threads.getCurrentThreadAllocatedBytes();
                    long start = System.nanoTime();
                    if (!contenders.get(index).tryRun(name, NOTHING)) {
                        throw new IllegalStateException(kinds.get(index).id + " found its uncontended key taken");
                    }
                    long took = System.nanoTime() - start;
                    long allocatedAfter = threads.getCurrentThreadAllocatedBytes();
                    if (round >= 0) {
                        samples[index][round] = took;
                        allocated[index] += allocatedAfter - allocatedBefore;
                    }
                }
            }
            return samples;
        } finally {
            for (Contender contender : contenders) {
                contender.close();
            }
        }
    }
}
