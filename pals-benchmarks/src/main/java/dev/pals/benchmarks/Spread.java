package dev.pals.benchmarks;

import java.util.Arrays;
import java.util.Locale;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleFunction;

/** A figure measured once per block (forks' stretches of rounds): its median over the blocks, and their range. */
record Spread(double median, double min, double max, int blocks) {

    static Spread of(double[] perBlock) {
        double[] sorted = perBlock.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        return new Spread(median, sorted[0], sorted[n - 1], n);
    }

    /** {@code of} each block's {@code a - b}, blocks paired by their order. */
    static Spread difference(double[] a, double[] b) {
        return combine(a, b, (x, y) -> x - y);
    }

    /** {@code of} each block's {@code a / b}, blocks paired by their order. */
    static Spread ratio(double[] a, double[] b) {
        return combine(a, b, (x, y) -> x / y);
    }

    private static Spread combine(double[] a, double[] b, DoubleBinaryOperator operator) {
        double[] each = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            each[i] = operator.applyAsDouble(a[i], b[i]);
        }
        return of(each);
    }

    /** The median, then "min to max over n blocks", each written by {@code format}. */
    String describe(DoubleFunction<String> format) {
        return format.apply(median) + String.format(Locale.ROOT, " (%s to %s over %d blocks)", format.apply(min),
                format.apply(max), blocks);
    }
}
