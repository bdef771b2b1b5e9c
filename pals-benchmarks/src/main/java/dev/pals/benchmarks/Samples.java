package dev.pals.benchmarks;

import java.util.Arrays;
import java.util.List;

/** Measured durations in nanoseconds, summarised by their median (noise on a shared machine is one-sided). */
final class Samples {

    private final long[] nanos;
    private final double[] blockMedians;

    Samples(long[] nanos) {
        this(List.of(nanos));
    }

    /** Samples measured in blocks (forks, or stretches of one), each of which keeps its own median. */
    Samples(List<long[]> blocks) {
        this.nanos = blocks.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        this.blockMedians = blocks.stream().mapToDouble(Samples::medianMicros).toArray();
    }

    double medianMicros() {
        return medianMicros(nanos);
    }

    /** The median of each block, in the order the blocks were measured. */
    double[] blockMedianMicros() {
        return blockMedians.clone();
    }

    double percentileMicros(double fraction) {
        // nearest rank: the smallest value with at least that fraction of samples at or below it
        int rank = (int) Math.ceil(fraction * nanos.length);
        return nanos[Math.max(0, rank - 1)] / 1_000.0;
    }

    int count() {
        return nanos.length;
    }

    private static double medianMicros(long[] unsorted) {
        long[] sorted = unsorted.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        long median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        return median / 1_000.0;
    }
}
