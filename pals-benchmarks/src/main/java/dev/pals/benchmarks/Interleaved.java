package dev.pals.benchmarks;

import dev.pals.benchmarks.Contender.Kind;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Uncontended acquire + release measured for several contenders in turn, one call each per round,
 * on one thread: whatever the shared machine does to one contender it does to the others within
 * microseconds, so the ratios of their medians hold when absolute figures drift between forks. It
 * is how scenario 1's ratio and scenario 6's few microseconds are judged.
 */
final class Interleaved {

    @SuppressWarnings("UnnecessaryLambda") // one shared no-op for the measured calls
    private static final Runnable NOTHING = () -> { };

    private final BenchmarkDatabase database;
    private final int warmup;
    private final int rounds;

    Interleaved(BenchmarkDatabase database, int warmup, int rounds) {
        this.database = database;
        this.warmup = warmup;
        this.rounds = rounds;
    }

    Map<Kind, Samples> measure(List<Kind> kinds) throws Throwable {
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
                    long start = System.nanoTime();
                    if (!contenders.get(index).tryRun(name, NOTHING)) {
                        throw new IllegalStateException(kinds.get(index).id + " found its uncontended key taken");
                    }
                    long took = System.nanoTime() - start;
                    if (round >= 0) {
                        samples[index][round] = took;
                    }
                }
            }
            Map<Kind, Samples> result = new EnumMap<>(Kind.class);
            for (int i = 0; i < kinds.size(); i++) {
                result.put(kinds.get(i), new Samples(samples[i]));
            }
            return result;
        } finally {
            for (Contender contender : contenders) {
                contender.close();
            }
        }
    }
}
