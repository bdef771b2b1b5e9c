package dev.pals.benchmarks;

import java.util.Arrays;

/** Measured durations in nanoseconds, summarised by their median (noise on a shared machine is one-sided). */
final class Samples {

    private final long[] nanos;

    Samples(long[] nanos) {
        this.nanos = nanos.clone();
        Arrays.sort(this.nanos);
    }

    double medianMicros() {
        int n = nanos.length;
        long median = n % 2 == 1 ? nanos[n / 2] : (nanos[n / 2 - 1] + nanos[n / 2]) / 2;
        return median / 1_000.0;
    }

    double percentileMicros(double fraction) {
        // nearest rank: the smallest value with at least that fraction of samples at or below it
        int rank = (int) Math.ceil(fraction * nanos.length);
        return nanos[Math.max(0, rank - 1)] / 1_000.0;
    }

    int count() {
        return nanos.length;
    }
}
