package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.AdvisoryLock;
import dev.pals.LockRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Scenarios 9 and 10: waits when the waiting registry has no connection free to wait on. (9) a
 * hand-off on one key while the waiting registry also holds 100 long-lived locks, taken at once
 * from many threads as a busy service takes them, against the same registry
 * holding nothing, in the same run; (10) 1,000 threads each waiting for one of 1,000 keys held by
 * another registry, released one by one: time from each release to its acquisition, connections
 * the waiting registry used, and whether every waiter was served. Run standalone with
 * {@code java -cp ... dev.pals.benchmarks.WaitsUnderLoad}, or as part of the comparison.
 */
final class WaitsUnderLoad {

    static final int BACKGROUND_HOLDS = 100;
    static final int WAITERS = 1_000;
    private static final int CONNECTIONS = 4;
    // the waiting registry's DataSource also has room for its two wake-up sessions (ReleaseWakeups)
    private static final Duration PATIENCE = Duration.ofSeconds(60);

    private final BenchmarkDatabase database;
    private final ConnectionSampler sampler;
    private final boolean quick;

    WaitsUnderLoad(BenchmarkDatabase database, ConnectionSampler sampler, boolean quick) {
        this.database = database;
        this.sampler = sampler;
        this.quick = quick;
    }

    /** Both scenarios' tables and targets. */
    void report(Report report) throws Exception {
        int rounds = quick ? 30 : 200;
        Samples idle = handOff(0, rounds);
        Samples busy = handOff(BACKGROUND_HOLDS, rounds);
        report.table("9. Hand-off under " + BACKGROUND_HOLDS + " held locks",
                "Two registries of " + CONNECTIONS + " connections; the holder releases one key 10-30 ms after the "
                        + "waiter asked for it, and the time from the release call to the waiter's acquisition is "
                        + "measured, " + rounds + " rounds each, the two cases one after the other in one run. In the busy case "
                        + "the waiting registry also holds " + BACKGROUND_HOLDS + " locks taken at once from 32 threads, "
                        + "which used to spread over all its connections and leave none free to wait on (the "
                        + "registry now keeps the last one free of locks for a wait in the server).",
                "waiting registry", "p50", "p99", "max");
        report.row("holding nothing", Report.micros(idle.medianMicros()), Report.micros(idle.percentileMicros(0.99)),
                Report.micros(idle.percentileMicros(1)));
        report.row("holding " + BACKGROUND_HOLDS + " locks", Report.micros(busy.medianMicros()),
                Report.micros(busy.percentileMicros(0.99)), Report.micros(busy.percentileMicros(1)));
        report.endTable();
        double ratio = busy.percentileMicros(0.99) / idle.percentileMicros(0.99);
        report.target("9. hand-off p99 under " + BACKGROUND_HOLDS + " held locks <= 2x holding nothing",
                Report.ratio(ratio), ratio <= 2);

        ManyWaiters many = manyWaiters();
        report.table("10. " + Report.count(WAITERS) + " waiters",
                Report.count(WAITERS) + " threads of one registry (" + CONNECTIONS + " connections) each wait for one of "
                        + Report.count(WAITERS) + " keys held by another registry, which then releases them one by one "
                        + "from one thread; time from each key's release call to its waiter's acquisition; connections "
                        + "of the waiting registry counted from pg_stat_activity.",
                "p50", "p99", "max", "served", "waiting registry's connections");
        report.row(Report.micros(many.latency.medianMicros()), Report.micros(many.latency.percentileMicros(0.99)),
                Report.micros(many.latency.percentileMicros(1)), many.served + " of " + WAITERS, many.connections);
        report.endTable();
        double machineBusy = many.burstEnd.machineBusySince(many.burstStart);
        if (!Double.isNaN(machineBusy)) {
            report.paragraph(String.format(Locale.ROOT, "From the first release until every waiter was done "
                    + "(%.0f ms), the machine's %d cores were %.0f%% busy, this JVM (both registries and the waiting "
                    + "threads) keeping %.0f%% of them busy and the server the rest%s.",
                    many.burstEnd.secondsSince(many.burstStart) * 1e3, many.burstEnd.cores(), 100 * machineBusy,
                    100 * many.burstEnd.jvmBusySince(many.burstStart),
                    machineBusy >= CpuUse.SATURATED ? ": the cores were saturated, and a waiter's wake-up queued for one" : ""));
        }
        report.target("10. " + Report.count(WAITERS) + " waiters all served, p99 <= 100 ms after release, on <= "
                + (CONNECTIONS + 2) + " connections", many.served + " served, p99 "
                + Report.micros(many.latency.percentileMicros(0.99)) + ", " + many.connections + " connections",
                many.served == WAITERS && many.latency.percentileMicros(0.99) <= 100_000
                        && many.connections <= CONNECTIONS + 2);
    }

    private Samples handOff(int backgroundHolds, int rounds) throws Exception {
        String app = ConnectionSampler.applicationName("s9", backgroundHolds == 0 ? "idle" : "busy");
        ExecutorService holderThread = Executors.newSingleThreadExecutor();
        ExecutorService waiterThread = Executors.newSingleThreadExecutor();
        try (HikariDataSource holderPool = database.pool(app + "-holder", CONNECTIONS);
                HikariDataSource waiterPool = database.pool(app, CONNECTIONS + 2);
                LockRegistry holder = LockRegistry.builder(holderPool).maxConnections(CONNECTIONS).build();
                LockRegistry waiter = LockRegistry.builder(waiterPool).maxConnections(CONNECTIONS).build()) {
            List<AdvisoryLock> background = holdSpread(waiter, backgroundHolds);
            String name = "handoff-" + UUID.randomUUID();
            AdvisoryLock held = holder.lock(name);
            AdvisoryLock wanted = waiter.lock(name);
            int warmup = 5;
            long[] samples = new long[rounds];
            for (int round = -warmup; round < rounds; round++) {
                if (!holderThread.submit(() -> held.tryAcquire()).get()) {
                    throw new IllegalStateException("The holder could not take the free lock " + name);
                }
                Future<Long> acquired = waiterThread.submit(() -> {
                    if (!wanted.tryAcquire(PATIENCE)) {
                        throw new IllegalStateException("The waiter timed out");
                    }
                    long at = System.nanoTime();
                    wanted.release();
                    return at;
                });
                // a random point of any polling cycle, and time for a wait in the server to queue
                Thread.sleep(10 + ThreadLocalRandom.current().nextInt(20));
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
            background.forEach(AdvisoryLock::release);
            return new Samples(samples);
        } finally {
            holderThread.shutdownNow();
            waiterThread.shutdownNow();
        }
    }

    /** {@code count} locks taken at once from 32 threads, so that they land on every connection. */
    private static List<AdvisoryLock> holdSpread(LockRegistry registry, int count) throws Exception {
        List<AdvisoryLock> locks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            locks.add(registry.lock("background-" + UUID.randomUUID()));
        }
        ExecutorService threads = Executors.newFixedThreadPool(32);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Boolean>> taken = new ArrayList<>();
            for (AdvisoryLock lock : locks) {
                taken.add(threads.submit(() -> {
                    start.await();
                    return lock.tryAcquire();
                }));
            }
            start.countDown();
            for (Future<Boolean> each : taken) {
                if (!each.get()) {
                    throw new IllegalStateException("A background lock was not taken");
                }
            }
        } finally {
            threads.shutdownNow();
        }
        return locks;
    }

    /** {@code burstStart} and {@code burstEnd}: the CPU read at the first release and once every waiter was done. */
    private record ManyWaiters(Samples latency, int served, int connections, CpuUse burstStart, CpuUse burstEnd) {
    }

    private ManyWaiters manyWaiters() throws Exception {
        String app = ConnectionSampler.applicationName("s10", "waiters");
        String prefix = "waiter-" + UUID.randomUUID() + "-";
        try (HikariDataSource holderPool = database.pool(app + "-holder", CONNECTIONS);
                HikariDataSource waiterPool = database.pool(app, CONNECTIONS + 2);
                LockRegistry holder = LockRegistry.builder(holderPool).maxConnections(CONNECTIONS).build();
                LockRegistry waiter = LockRegistry.builder(waiterPool).maxConnections(CONNECTIONS).build()) {
            List<AdvisoryLock> held = new ArrayList<>();
            for (int i = 0; i < WAITERS; i++) {
                AdvisoryLock lock = holder.lock(prefix + i);
                if (!lock.tryAcquire()) {
                    throw new IllegalStateException("The holder could not take " + lock.name());
                }
                held.add(lock);
            }
            AtomicLongArray acquiredAt = new AtomicLongArray(WAITERS);
            CountDownLatch asked = new CountDownLatch(WAITERS);
            CountDownLatch done = new CountDownLatch(WAITERS);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < WAITERS; i++) {
                int index = i;
                AdvisoryLock lock = waiter.lock(prefix + i);
                Thread thread = new Thread(() -> {
                    try {
                        asked.countDown();
                        if (lock.tryAcquire(PATIENCE)) {
                            acquiredAt.set(index, System.nanoTime());
                            lock.release();
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } finally {
                        done.countDown();
                    }
                }, "bench-waiter-" + i);
                thread.setDaemon(true);
                threads.add(thread);
                thread.start();
            }
            asked.await();
            // every waiter has settled into its wait (in the server or not) well before this
            Thread.sleep(quick ? 1_000 : 2_000);
            long[] releasedAt = new long[WAITERS];
            CpuUse burstStart = CpuUse.now();
            for (int i = 0; i < WAITERS; i++) {
                releasedAt[i] = System.nanoTime();
                held.get(i).release();
            }
            done.await(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            CpuUse burstEnd = CpuUse.now();
            int served = 0;
            long[] latencies = new long[WAITERS];
            for (int i = 0; i < WAITERS; i++) {
                long at = acquiredAt.get(i);
                if (at != 0) {
                    latencies[served++] = at - releasedAt[i];
                }
            }
            threads.forEach(Thread::interrupt);
            return new ManyWaiters(new Samples(java.util.Arrays.copyOf(latencies, Math.max(1, served))), served,
                    sampler.peak(app), burstStart, burstEnd);
        }
    }

    public static void main(String[] args) throws Exception {
        BenchmarkDatabase database = BenchmarkDatabase.start();
        try (ConnectionSampler sampler = new ConnectionSampler(database)) {
            Report report = new Report("Waits under load", List.of());
            new WaitsUnderLoad(database, sampler, Boolean.getBoolean("pals.bench.quick")).report(report);
            System.out.println(report.markdown());
        }
        System.exit(0);
    }
}
