package dev.pals.benchmarks;

import dev.pals.benchmarks.Contender.Held;
import dev.pals.benchmarks.Contender.Kind;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
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
        ExecutorService holderThread = Executors.newSingleThreadExecutor();
        ExecutorService waiterThread = Executors.newSingleThreadExecutor();
        try (Contender holder = Contender.create(kind, database, ConnectionSampler.applicationName("s3", kind.id), 1);
                Contender waiter = Contender.create(kind, database, ConnectionSampler.applicationName("s3", kind.id), 1);
                Connection observer = database.connect("pals-bench-observer");
                PreparedStatement waiting = observer.prepareStatement("SELECT count(*) FROM pg_locks l "
                        + "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND NOT l.granted "
                        + "AND a.application_name = ?")) {
            waiting.setString(1, ConnectionSampler.applicationName("s3", kind.id));
            long[] samples = new long[rounds];
            String name = "handoff-" + kind.id;
            for (int round = -warmup; round < rounds; round++) {
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
                long handOff = acquired.get(PATIENCE.toSeconds(), TimeUnit.SECONDS) - released;
                if (round >= 0) {
                    samples[round] = handOff;
                }
            }
            return new Samples(samples);
        } finally {
            holderThread.shutdownNow();
            waiterThread.shutdownNow();
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
