package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.AdvisoryLock;
import dev.pals.LeaseBounds;
import dev.pals.LockException;
import dev.pals.LockRegistry;
import dev.pals.testing.TcpRelay;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Scenario 5, this project only (the others have no such signal): a registry at its default
 * settings holds a lock; its backend is terminated with {@code pg_terminate_backend}; measured is
 * the time until the registry's {@code LockLossListener} hears of it. The kill lands at a random
 * point of the loss check's period. Then the price of watching: statements per second the
 * registry sends while it holds {@value #HELD} locks and does nothing else.
 */
final class LossDetection {

    static final int HELD = 1_000;
    static final int WATCH_SECONDS = 10;

    /** What one run found; the connections of the watch are counted by the sampler under {@link #WATCHED}. */
    record Result(Samples latency, double statementsPerSecond) {
    }

    /** The application name of the registry whose watching is counted. */
    static final String WATCHED = ConnectionSampler.applicationName("s5", "watched");

    private final BenchmarkDatabase database;
    private final int rounds;

    LossDetection(BenchmarkDatabase database, int rounds) {
        this.database = database;
        this.rounds = rounds;
    }

    Result measure() throws Exception {
        String applicationName = ConnectionSampler.applicationName("s5", "registry");
        LinkedBlockingQueue<Long> heard = new LinkedBlockingQueue<>();
        try (HikariDataSource pool = database.pool(applicationName, RegistryContender.POOL_HEADROOM);
                LockRegistry registry = LockRegistry.builder(pool)
                        .lossListener((lock, loss) -> heard.add(System.nanoTime())).build();
                Connection observer = database.connect("pals-bench-observer");
                PreparedStatement holder = observer.prepareStatement("SELECT pid FROM pg_stat_activity "
                        + "WHERE application_name = ? AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')");
                PreparedStatement kill = observer.prepareStatement("SELECT pg_terminate_backend(?)")) {
            holder.setString(1, applicationName);
            long[] samples = new long[rounds];
            for (int round = 0; round < rounds; round++) {
                AdvisoryLock lock = registry.lock("loss-" + round);
                if (!lock.tryAcquire()) {
                    throw new IllegalStateException("Could not take free lock loss-" + round);
                }
                int pid;
                try (ResultSet row = holder.executeQuery()) {
                    row.next();
                    pid = row.getInt(1);
                }
                Thread.sleep(ThreadLocalRandom.current().nextInt(1_000));
                long killed = System.nanoTime();
                kill.setInt(1, pid);
                kill.executeQuery().close();
                Long at = heard.poll(30, TimeUnit.SECONDS);
                if (at == null) {
                    throw new IllegalStateException("The registry never reported the loss of lock loss-" + round);
                }
                samples[round] = at - killed;
                try {
                    lock.release();
                } catch (LockException expected) {
                    // the loss, reported once more to the owner, as documented
                }
            }
            return new Result(new Samples(samples), watch());
        }
    }

    /**
     * The time until a registry at default settings is told its connection went silent: a relay
     * between it and the server stops forwarding without closing anything, at a random point of the
     * loss check's period. Also what the server reported it will take to free the silent session's
     * locks ({@link LeaseBounds#serverRelease()}).
     */
    Silent measureSilent() throws Exception {
        long[] samples = new long[rounds];
        Duration serverRelease = null;
        for (int round = 0; round < rounds; round++) {
            LinkedBlockingQueue<Long> heard = new LinkedBlockingQueue<>();
            try (TcpRelay relay = TcpRelay.to(database.url);
                    HikariDataSource pool = database.pool(relay.jdbcUrl(),
                            ConnectionSampler.applicationName("s5", "silent"), RegistryContender.POOL_HEADROOM)) {
                try (LockRegistry registry = LockRegistry.builder(pool)
                        .lossListener((lock, loss) -> heard.add(System.nanoTime())).build()) {
                    AdvisoryLock lock = registry.lock("silent-" + round);
                    if (!lock.tryAcquire()) {
                        throw new IllegalStateException("Could not take free lock silent-" + round);
                    }
                    serverRelease = Objects.requireNonNull(registry.leaseBounds(), "a registry on a DataSource has lease bounds")
                            .serverRelease();
                    Thread.sleep(ThreadLocalRandom.current().nextInt(1_000));
                    long silenced = System.nanoTime();
                    relay.blackHole();
                    Long at = heard.poll(60, TimeUnit.SECONDS);
                    if (at == null) {
                        throw new IllegalStateException("The registry never reported the silent connection of round "
                                + round);
                    }
                    samples[round] = at - silenced;
                }
            }
        }
        return new Silent(new Samples(samples), Objects.requireNonNull(serverRelease, "no round ran"));
    }

    /** What the silent rounds found. */
    record Silent(Samples latency, Duration serverRelease) {
    }

    /** Statements per second a registry at default settings sends while it holds {@value #HELD} locks idly. */
    private double watch() throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try (HikariDataSource pool = database.pool(WATCHED, RegistryContender.POOL_HEADROOM)) {
            CountingDataSource counting = new CountingDataSource(pool);
            try (LockRegistry registry = LockRegistry.builder(counting.dataSource()).build()) {
                return watch(registry, counting, threads);
            }
        } finally {
            threads.shutdownNow();
        }
    }

    /** Takes {@value #HELD} locks from four threads, then counts what the idle registry sends. */
    private static double watch(LockRegistry registry, CountingDataSource counting, ExecutorService threads)
            throws Exception {
        List<Future<List<AdvisoryLock>>> taking = new ArrayList<>();
        for (int thread = 0; thread < 4; thread++) {
            int first = thread * (HELD / 4);
            taking.add(threads.submit(() -> {
                List<AdvisoryLock> mine = new ArrayList<>();
                for (int i = first; i < first + HELD / 4; i++) {
                    AdvisoryLock lock = registry.lock("watched-" + i);
                    if (!lock.tryAcquire()) {
                        throw new IllegalStateException("Could not take free lock watched-" + i);
                    }
                    mine.add(lock);
                }
                return mine;
            }));
        }
        List<AdvisoryLock> held = new ArrayList<>();
        for (Future<List<AdvisoryLock>> each : taking) {
            held.addAll(each.get());
        }
        long before = counting.statements();
        long start = System.nanoTime();
        Thread.sleep(TimeUnit.SECONDS.toMillis(WATCH_SECONDS));
        double perSecond = (counting.statements() - before) / ((System.nanoTime() - start) / 1e9);
        held.forEach(AdvisoryLock::release);
        return perSecond;
    }
}
