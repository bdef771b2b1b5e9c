/**
 * The comparison of this project with the alternatives a Spring team weighs it against: JMH
 * benchmarks for latency and throughput ({@link dev.pals.benchmarks.LockBenchmarks}), measured
 * scenarios for hand-off, capacity and loss detection, and {@link dev.pals.benchmarks.Comparison},
 * which runs them all and writes the table. Not published.
 */
@NullMarked
package dev.pals.benchmarks;

import org.jspecify.annotations.NullMarked;
