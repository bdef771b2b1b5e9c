package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.AdvisoryLock;
import dev.pals.AdvisoryLockSet;
import dev.pals.LockKey;
import dev.pals.LockRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.UUID;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.runner.RunnerException;

/**
 * A two-name acquisition ({@link LockRegistry#locks}) against one name, uncontended, one thread:
 * what all-or-nothing in key order costs over a single lock, and over the floor of two keys taken
 * and freed by hand in one statement each. {@link Comparison} adds its row; {@link #main} runs it
 * alone:
 * {@code ./mvnw -q -pl pals-benchmarks -am test-compile exec:java -Dexec.mainClass=dev.pals.benchmarks.LockSetBenchmarks
 * -Dexec.classpathScope=test}, or any JMH command line given the {@code -Dpals.bench.*} properties.
 */
@State(Scope.Benchmark)
@SuppressWarnings("NullAway.Init") // JMH runs @Setup before any benchmark method
public class LockSetBenchmarks {

    private HikariDataSource pool;
    private LockRegistry registry;
    private Connection floor;
    private final String first = "bench-set-" + UUID.randomUUID();
    private final String second = "bench-set-" + UUID.randomUUID();
    private final List<String> names = List.of(first, second);

    @Setup(Level.Trial)
    public void start() throws SQLException {
        BenchmarkDatabase database = BenchmarkDatabase.fromSystemProperties();
        pool = database.pool("pals-bench-sets", RegistryContender.CONNECTIONS + RegistryContender.POOL_HEADROOM);
        registry = LockRegistry.builder(pool).maxConnections(RegistryContender.CONNECTIONS).build();
        floor = database.connect("pals-bench-sets-floor");
    }

    @TearDown(Level.Trial)
    public void stop() throws SQLException {
        floor.close();
        registry.close();
        pool.close();
    }

    @Benchmark
    public boolean oneName() {
        AdvisoryLock lock = registry.lock(first);
        if (!lock.tryAcquire()) {
            throw new IllegalStateException("the uncontended lock '" + first + "' was taken");
        }
        return lock.release();
    }

    @Benchmark
    public boolean twoNames() {
        AdvisoryLockSet locks = registry.locks(names);
        if (!locks.tryAcquire()) {
            throw new IllegalStateException("the uncontended locks " + names + " were taken");
        }
        return locks.release();
    }

    /** Both keys in one statement and freed in one: the least two locks can cost. */
    @Benchmark
    public boolean twoKeysByHand() throws SQLException {
        return twoKeys("SELECT pg_try_advisory_lock(?) AND pg_try_advisory_lock(?)")
                && twoKeys("SELECT pg_advisory_unlock(?) AND pg_advisory_unlock(?)");
    }

    private boolean twoKeys(String sql) throws SQLException {
        try (PreparedStatement statement = floor.prepareStatement(sql)) {
            statement.setLong(1, LockKey.of(null, first).value());
            statement.setLong(2, LockKey.of(null, second).value());
            try (ResultSet row = statement.executeQuery()) {
                row.next();
                return row.getBoolean(1);
            }
        }
    }

    /** Adds the table of a two-name acquisition to the comparison. */
    static void report(Report report, BenchmarkDatabase database, boolean quick) throws RunnerException {
        double[] medians = SampleMedians.of(LockSetBenchmarks.class, database, quick, "oneName", "twoNames",
                "twoKeysByHand");
        report.table("7. Two names at once, uncontended, 1 thread",
                "`registry.locks(List.of(a, b))`: acquire both in key order, all or nothing, then release both, "
                        + "against one name and against both keys taken and freed by hand in one statement each. "
                        + "JMH, sample mode, one fork each.",
                "call", "median latency", "ratio to one name");
        report.row("one name (`lock(a)`)", Report.micros(medians[0]), Report.ratio(1));
        report.row("two names (`locks(List.of(a, b))`)", Report.micros(medians[1]), Report.ratio(medians[1] / medians[0]));
        report.row("two keys by hand (2 statements)", Report.micros(medians[2]), Report.ratio(medians[2] / medians[0]));
        report.endTable();
    }

    /** Runs this benchmark alone, on the server {@link BenchmarkDatabase#start()} finds or starts. */
    public static void main(String[] args) throws Exception {
        BenchmarkDatabase database = BenchmarkDatabase.start();
        Report report = new Report("Lock sets", List.of());
        report(report, database, Boolean.getBoolean("pals.bench.quick"));
        System.out.println(report.markdown());
        System.exit(0);
    }
}
