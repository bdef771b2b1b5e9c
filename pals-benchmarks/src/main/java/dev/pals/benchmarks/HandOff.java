package dev.pals.benchmarks;

import dev.pals.benchmarks.Contender.Held;
import dev.pals.benchmarks.Contender.Kind;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Scenario 3: one key, two instances. Instance A holds the lock; instance B asks for it and waits;
 * A releases. Measured: the time from A's release call to B's acquisition returning, which is
 * what a queue of workers on one key loses per hand-off. Each side keeps to one thread, as some
 * libraries require a lock to be released by the thread that took it.
 */
final class HandOff {

    private static final Duration PATIENCE = Duration.ofSeconds(30);

    private final BenchmarkDatabase database;
    private final int warmup;
    private final int rounds;

    HandOff(BenchmarkDatabase database, int warmup, int rounds) {
        this.database = database;
        this.warmup = warmup;
        this.rounds = rounds;
    }

    Samples measure(Kind kind) throws Exception {
        try (Pair pair = new Pair(database, kind)) {
            long[] samples = new long[rounds];
            for (int round = -warmup; round < rounds; round++) {
                long handOff = pair.handOff();
                if (round >= 0) {
                    samples[round] = handOff;
                }
            }
            return new Samples(samples);
        }
    }

    /**
     * {@code first} and {@code second} in turns, round by round ({@code first} leading in even rounds,
     * {@code second} in odd ones), in {@code blocks} blocks of this measurement's rounds: a shared
     * machine that speeds up or slows down between two contenders' runs then moves both alike, and
     * the ratio of their medians does not carry that drift.
     */
    Samples[] measureInTurns(Kind first, Kind second, int blocks) throws Exception {
        try (Pair a = new Pair(database, first); Pair b = new Pair(database, second)) {
            for (int round = 0; round < warmup; round++) {
                a.handOff();
                b.handOff();
            }
            List<long[]> ofFirst = new ArrayList<>();
            List<long[]> ofSecond = new ArrayList<>();
            for (int block = 0; block < blocks; block++) {
                long[] x = new long[rounds];
                long[] y = new long[rounds];
                for (int round = 0; round < rounds; round++) {
                    if (round % 2 == 0) {
                        x[round] = a.handOff();
                        y[round] = b.handOff();
                    } else {
                        y[round] = b.handOff();
                        x[round] = a.handOff();
                    }
                }
                ofFirst.add(x);
                ofSecond.add(y);
            }
            return new Samples[] {new Samples(ofFirst), new Samples(ofSecond)};
        }
    }

    /** One contender's holder and waiter, each on a thread of its own, and the query that sees the waiter queue. */
    private static final class Pair implements AutoCloseable {

        private final Kind kind;
        private final String name;
        private final ExecutorService holderThread = Executors.newSingleThreadExecutor();
        private final ExecutorService waiterThread = Executors.newSingleThreadExecutor();
        private final Contender holder;
        private final Contender waiter;
        private final Connection observer;
        private final PreparedStatement waiting;

        Pair(BenchmarkDatabase database, Kind kind) throws Exception {
            this.kind = kind;
            this.name = "handoff-" + kind.id;
            String applicationName = ConnectionSampler.applicationName("s3", kind.id);
            this.holder = Contender.create(kind, database, applicationName, 1);
            this.waiter = Contender.create(kind, database, applicationName, 1);
            this.observer = database.connect("pals-bench-observer");
            this.waiting = observer.prepareStatement("SELECT count(*) FROM pg_locks l "
                    + "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND NOT l.granted "
                    + "AND a.application_name = ?");
            waiting.setString(1, applicationName);
        }

        /** One round: the holder takes the key, the waiter queues for it, the holder lets go; release to acquisition. */
        long handOff() throws Exception {
            Held held = holderThread.submit(() -> holder.tryHold(name)).get();
            if (held == null) {
                throw new IllegalStateException(kind.id + ": the holder could not take the free lock " + name);
            }
            Future<Long> acquired = waiterThread.submit(() -> {
                Held got = waiter.hold(name, PATIENCE);
                long at = System.nanoTime();
                if (got == null) {
                    throw new IllegalStateException(kind.id + ": the waiter timed out");
                }
                got.release();
                return at;
            });
            awaitWaiter(kind, waiting);
            long released = holderThread.submit(() -> {
                long at = System.nanoTime();
                held.release();
                return at;
            }).get();
            return acquired.get(PATIENCE.toSeconds(), TimeUnit.SECONDS) - released;
        }

        @Override
        public void close() throws Exception {
            holderThread.shutdownNow();
            waiterThread.shutdownNow();
            try (holder; waiter; observer; waiting) {
                // closed in reverse order, each even if another fails
            }
        }
    }

    /**
     * Until the waiter is queued in the server; a library that polls from the client instead gets a
     * random quarter second, so that the release lands at a random point of its polling cycle.
     */
    private static void awaitWaiter(Kind kind, PreparedStatement waiting) throws SQLException, InterruptedException {
        if (kind == Kind.SPRING_INTEGRATION) {
            Thread.sleep(200 + ThreadLocalRandom.current().nextInt(100));
            return;
        }
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (System.nanoTime() < deadline) {
            try (ResultSet row = waiting.executeQuery()) {
                row.next();
                if (row.getInt(1) > 0) {
                    return;
                }
            }
            Thread.sleep(1);
        }
        throw new IllegalStateException(kind.id + ": the waiter never queued in the server");
    }
}
