package dev.pals.benchmarks;

import dev.pals.benchmarks.Contender.Kind;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongPredicate;

/**
 * Scenario 2b: the registry's throughput against what the server itself can do, in one run. The
 * limit is PostgreSQL fed lock and unlock pairs with no library in the way: {@value #CLIENTS}
 * threads, each on one connection of its own, sending {@value #PAIRS_PER_TRIP} pairs per round
 * trip, in two forms, the faster of which is the limit:
 * <ul>
 *   <li><b>pipeline</b>: {@value #PAIRS_PER_TRIP} executions of {@code SELECT pg_advisory_lock(?),
 *       pg_advisory_unlock(?)} in one {@code executeBatch}, which PgJDBC sends as one pipeline of
 *       Bind/Execute messages and one Sync (as pgbench's {@code \startpipeline}). PgJDBC drops the
 *       rows of a batched SELECT, so each client proves once, from {@code pg_locks}, that a batch of
 *       locks alone took them all.
 *   <li><b>one statement</b>: {@code SELECT pg_advisory_lock(k), pg_advisory_unlock(k) FROM
 *       unnest(?::bigint[])}, the form the registry's own batches take.
 * </ul>
 * The registry's side is {@value #THREADS} threads, each on a key of its own, calling
 * {@code tryAcquire} and {@code release} on a registry of {@value RegistryContender#CONNECTIONS}
 * connections. Beside them, the same threads with the database taken out ({@link WakeUpFloor}): what a
 * thread's park and wake-up per call costs alone. The four are measured in turns, several rounds, and
 * the medians are reported, so that drift of a shared machine touches all four alike. Each phase
 * also reads the CPU it cost ({@link CpuUse}), this JVM's and the whole machine's, so that the
 * report can say how far the registry's cost per pair is from what the target allows on this
 * machine's cores, and how much of that distance no batching can close. Run standalone with
 * {@code java -cp ... dev.pals.benchmarks.PhysicalLimit}, or as part of the comparison.
 */
final class PhysicalLimit {

    static final int CLIENTS = 2;
    static final int PAIRS_PER_TRIP = 50;
    static final int THREADS = 64;
    /** The target: the registry at least half of the server's own rate. */
    static final double TARGET_SHARE = 0.5;

    private static final String APPLICATION = ConnectionSampler.applicationName("s2b", "limit");

    private final BenchmarkDatabase database;
    private final int rounds;
    private final long phaseNanos;

    PhysicalLimit(BenchmarkDatabase database, int rounds, long phaseMillis) {
        this.database = database;
        this.rounds = rounds;
        this.phaseNanos = phaseMillis * 1_000_000;
    }

    /**
     * One form's pairs per second, and the CPU each pair cost this JVM (the clients or the
     * registry, with its threads) and the whole machine (the server's backends too, where it runs
     * here; {@link Double#NaN} where the system does not tell), in microseconds.
     */
    record Phase(double pairsPerSecond, double jvmMicros, double machineMicros) {
        static Phase median(List<Phase> rounds) {
            return new Phase(PhysicalLimit.median(rounds.stream().mapToDouble(Phase::pairsPerSecond).toArray()),
                    PhysicalLimit.median(rounds.stream().mapToDouble(Phase::jvmMicros).toArray()),
                    PhysicalLimit.median(rounds.stream().mapToDouble(Phase::machineMicros).toArray()));
        }
    }

    /** Each form, medians over the rounds; {@code wakeUps} is the registry's threads without the database. */
    record Result(Phase pipeline, Phase oneStatement, Phase registry, Phase wakeUps) {
        double limit() {
            return Math.max(pipeline.pairsPerSecond(), oneStatement.pairsPerSecond());
        }

        double share() {
            return registry.pairsPerSecond() / limit();
        }
    }

    Result measure() throws Exception {
        List<Phase> pipeline = new ArrayList<>();
        List<Phase> oneStatement = new ArrayList<>();
        List<Phase> registry = new ArrayList<>();
        List<Phase> wakeUps = new ArrayList<>();
        try (Contender contender = Contender.create(Kind.REGISTRY, database,
                ConnectionSampler.applicationName("s2b", Kind.REGISTRY.id), THREADS)) {
            // one round first, not kept: connections open, statements prepared, code compiled
            for (int round = -1; round < rounds; round++) {
                Phase p = clients(this::pipeline);
                Phase o = clients(this::oneStatement);
                Phase r = registry(contender);
                Phase w = wakeUps();
                if (round >= 0) {
                    pipeline.add(p);
                    oneStatement.add(o);
                    registry.add(r);
                    wakeUps.add(w);
                }
            }
        }
        return new Result(Phase.median(pipeline), Phase.median(oneStatement), Phase.median(registry),
                Phase.median(wakeUps));
    }

    /** Adds scenario 2b's table and target to the comparison. */
    static void report(Report report, BenchmarkDatabase database, boolean quick) throws Exception {
        Result result = new PhysicalLimit(database, quick ? 1 : 5, quick ? 1_000 : 3_000).measure();
        report.table("2b. Against the physical limit",
                "What PostgreSQL itself does, fed " + PAIRS_PER_TRIP + " `pg_advisory_lock`/`pg_advisory_unlock` pairs "
                        + "per round trip by " + CLIENTS + " threads on a connection each, with no library in the way: "
                        + "as a pipeline (" + PAIRS_PER_TRIP + " statements in one `executeBatch`, one Sync, as "
                        + "pgbench's `\\startpipeline`) and as one statement over `unnest` of an array. The faster is "
                        + "the limit. Against it, the registry with " + THREADS + " threads on distinct keys and "
                        + RegistryContender.CONNECTIONS + " connections, measured in turns with the two in the same "
                        + "JVM; medians of the rounds.",
                "what", "acquire + release pairs per second", "share of the limit", "CPU per pair, this JVM",
                "CPU per pair, whole machine");
        row(report, "PostgreSQL, pipeline (" + CLIENTS + " connections)", result.pipeline(), result.limit());
        row(report, "PostgreSQL, one statement over unnest (" + CLIENTS + " connections)", result.oneStatement(),
                result.limit());
        row(report, "**this project: LockRegistry**, " + THREADS + " threads, " + RegistryContender.CONNECTIONS
                + " connections", result.registry(), result.limit());
        row(report, "no database: the same " + THREADS + " threads, each call handed to one of "
                + RegistryContender.CONNECTIONS + " threads and woken when answered", result.wakeUps(), result.limit());
        report.endTable();
        report.paragraph("What bounds the registry here: each of its " + THREADS + " threads has one call in flight, "
                + "so a statement answers at most " + THREADS / RegistryContender.CONNECTIONS + " calls on each of "
                + RegistryContender.CONNECTIONS + " connections, and each call parks its thread until its batch is "
                + "answered: a thread wake-up per call, on the cores the server needs too, where the limit's "
                + CLIENTS + " threads never park.");
        int cores = CpuUse.now().cores();
        if (cores > 0) {
            // the whole machine's CPU a pair may cost for the registry to reach the target on these cores
            double budget = cores * 1e6 / (TARGET_SHARE * result.limit());
            report.paragraph("At " + percent(TARGET_SHARE) + " of the limit, this machine's " + cores + " cores "
                    + "have " + micros(budget) + " of CPU per pair, for the registry, its threads and the server "
                    + "together. The registry's pairs cost " + micros(result.registry().machineMicros()) + " of the "
                    + "machine's CPU each, " + String.format(Locale.ROOT, "%.1f", result.registry().machineMicros() / budget)
                    + " times that budget: " + micros(result.registry().jvmMicros()) + " in this JVM and "
                    + micros(result.registry().machineMicros() - result.registry().jvmMicros()) + " outside it "
                    + "(the server's backends, where it runs here), against "
                    + micros(result.oneStatement().machineMicros() - result.oneStatement().jvmMicros())
                    + " outside the JVM for a pair of the limit's one statement. With the database taken out, a "
                    + "thread's park and wake-up for each acquire and each release cost "
                    + micros(result.wakeUps().machineMicros()) + " of the machine's CPU per pair, "
                    + String.format(Locale.ROOT, "%.1f", result.wakeUps().machineMicros() / budget)
                    + " times the budget"
                    + (result.wakeUps().machineMicros() > budget
                            ? ": on these cores, no design in which each call parks its platform thread until "
                                    + "answered reaches the target, however few statements it sends."
                            : ": on these cores the wake-ups alone fit in the budget, and the rest is the "
                                    + "registry's own work and its statements."));
        }
        report.target("2b. LockRegistry throughput >= " + percent(TARGET_SHARE) + " of the physical limit",
                percent(result.share()) + " (" + Report.count(result.registry().pairsPerSecond()) + " of "
                        + Report.count(result.limit())
                        + "/s)", result.share() >= TARGET_SHARE);
    }

    private static void row(Report report, String what, Phase phase, double limit) {
        report.row(what, Report.count(phase.pairsPerSecond()), percent(phase.pairsPerSecond() / limit),
                micros(phase.jvmMicros()), micros(phase.machineMicros()));
    }

    private static String micros(double micros) {
        return Double.isNaN(micros) ? "n/a: the system does not tell"
                : String.format(Locale.ROOT, "%.1f µs", micros);
    }

    private static String percent(double share) {
        return String.format(Locale.ROOT, "%.0f%%", 100 * share);
    }

    /** One round trip of {@link #PAIRS_PER_TRIP} pairs on a client's connection, from {@code firstKey} on. */
    @FunctionalInterface
    private interface Trip {
        void send(Client client, long firstKey) throws SQLException;
    }

    private static final class Client implements AutoCloseable {
        final Connection connection;
        final PreparedStatement pair;
        final PreparedStatement unnest;

        Client(Connection connection) throws SQLException {
            this.connection = connection;
            this.pair = connection.prepareStatement("SELECT pg_advisory_lock(?), pg_advisory_unlock(?)");
            this.unnest = connection.prepareStatement(
                    "SELECT pg_advisory_lock(k), pg_advisory_unlock(k) FROM unnest(?::bigint[]) AS k");
            provePipelineRuns();
        }

        /** A batched SELECT's rows are dropped by PgJDBC: check once that its statements ran all the same. */
        private void provePipelineRuns() throws SQLException {
            try (PreparedStatement lock = connection.prepareStatement("SELECT pg_advisory_lock(?)");
                    Statement check = connection.createStatement()) {
                for (int i = 0; i < PAIRS_PER_TRIP; i++) {
                    lock.setLong(1, -1 - i);
                    lock.addBatch();
                }
                lock.executeBatch();
                try (ResultSet held = check.executeQuery("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                        + " AND pid = pg_backend_pid() AND granted")) {
                    held.next();
                    if (held.getInt(1) != PAIRS_PER_TRIP) {
                        throw new IllegalStateException("A pipeline of " + PAIRS_PER_TRIP + " locks took "
                                + held.getInt(1));
                    }
                }
                check.execute("SELECT pg_advisory_unlock_all()");
            }
        }

        @Override
        public void close() throws SQLException {
            connection.close();
        }
    }

    private void pipeline(Client client, long firstKey) throws SQLException {
        for (int i = 0; i < PAIRS_PER_TRIP; i++) {
            client.pair.setLong(1, firstKey + i);
            client.pair.setLong(2, firstKey + i);
            client.pair.addBatch();
        }
        client.pair.executeBatch();
    }

    private void oneStatement(Client client, long firstKey) throws SQLException {
        Long[] keys = new Long[PAIRS_PER_TRIP];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = firstKey + i;
        }
        Array array = client.connection.createArrayOf("bigint", keys);
        client.unnest.setArray(1, array);
        try (ResultSet rows = client.unnest.executeQuery()) {
            expectPairs(rows);
        }
    }

    /** Reads every answer, as the registry does, and checks that each unlock found its lock. */
    private static void expectPairs(ResultSet rows) throws SQLException {
        int count = 0;
        while (rows.next()) {
            if (!rows.getBoolean(2)) {
                throw new IllegalStateException("An unlock found its lock not held");
            }
            count++;
        }
        if (count != PAIRS_PER_TRIP) {
            throw new IllegalStateException("Expected " + PAIRS_PER_TRIP + " answers, got " + count);
        }
    }

    /** {@link #CLIENTS} threads sending {@code trip} over and over for one phase. */
    private Phase clients(Trip trip) throws Exception {
        List<Client> clients = new ArrayList<>();
        try {
            for (int i = 0; i < CLIENTS; i++) {
                clients.add(new Client(database.connect(APPLICATION)));
            }
            List<LongPredicate> loops = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                Client client = clients.get(i);
                // each client on keys of its own, so that the two never wait for each other
                long base = (i + 1L) << 40;
                loops.add(n -> {
                    try {
                        trip.send(client, base + (n % 1_000) * PAIRS_PER_TRIP);
                        return true;
                    } catch (SQLException e) {
                        throw new IllegalStateException(e);
                    }
                });
            }
            return run(loops, PAIRS_PER_TRIP);
        } finally {
            for (Client client : clients) {
                client.close();
            }
        }
    }

    private Phase wakeUps() throws Exception {
        try (WakeUpFloor floor = new WakeUpFloor(RegistryContender.CONNECTIONS)) {
            List<LongPredicate> loops = new ArrayList<>();
            for (int i = 0; i < THREADS; i++) {
                int caller = i;
                loops.add(n -> {
                    try {
                        floor.call(caller);
                        floor.call(caller);
                        return true;
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    }
                });
            }
            return run(loops, 1);
        }
    }

    private Phase registry(Contender contender) throws Exception {
        List<LongPredicate> loops = new ArrayList<>();
        for (int i = 0; i < THREADS; i++) {
            String name = "s2b-" + i;
            loops.add(n -> {
                try {
                    return contender.tryRun(name, () -> { });
                } catch (Throwable e) {
                    throw new IllegalStateException(e);
                }
            });
        }
        return run(loops, 1);
    }

    /** Runs each loop, whose every call is {@code pairsPerCall} pairs, on a thread of its own for one phase. */
    private Phase run(List<LongPredicate> loops, int pairsPerCall) throws InterruptedException {
        AtomicLong calls = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch start = new CountDownLatch(1);
        long[] window = new long[2];
        List<Thread> threads = new ArrayList<>();
        for (LongPredicate loop : loops) {
            Thread thread = new Thread(() -> {
                try {
                    start.await();
                    long done = 0;
                    long end = window[1];
                    while (System.nanoTime() < end) {
                        if (!loop.test(done)) {
                            throw new IllegalStateException("An uncontended key was found taken");
                        }
                        done++;
                    }
                    calls.addAndGet(done);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "s2b-client");
            threads.add(thread);
            thread.start();
        }
        CpuUse before = CpuUse.now();
        window[0] = System.nanoTime();
        window[1] = window[0] + phaseNanos;
        start.countDown();
        for (Thread thread : threads) {
            thread.join();
        }
        CpuUse after = CpuUse.now();
        if (failure.get() != null) {
            throw new IllegalStateException("Scenario 2b failed: " + failure.get(), failure.get());
        }
        double pairs = (double) calls.get() * pairsPerCall;
        return new Phase(pairs * 1e9 / (System.nanoTime() - window[0]), after.jvmSecondsSince(before) * 1e6 / pairs,
                after.machineSecondsSince(before) * 1e6 / pairs);
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int middle = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /** Starts the server as the comparison does and prints scenario 2b's table; {@code -Dpals.bench.quick=true} shortens it. */
    public static void main(String[] args) throws Exception {
        BenchmarkDatabase database = BenchmarkDatabase.start();
        Report report = new Report("Against the physical limit", List.of());
        report(report, database, Boolean.getBoolean("pals.bench.quick"));
        System.out.println(report.markdown());
        System.exit(0);
    }
}
