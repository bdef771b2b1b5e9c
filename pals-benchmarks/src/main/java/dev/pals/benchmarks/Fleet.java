package dev.pals.benchmarks;

import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Scenario 11: a fleet of {@value #PROCESSES} x {@value #PER_PROCESS} registries, in as many JVMs
 * started with this JVM's class path ({@link FleetMember}), on one server. Each registry has a lock
 * pool of its own at the starter's defaults, holds {@value #HELD} long-lived locks, and one worker of
 * each takes and releases locks on {@value #SHARED_KEYS} keys all registries share, holding each for
 * {@value #HOLD_MICROS} µs and pausing up to {@value #PAUSE_MICROS} µs between. Measured: the
 * connections the fleet has open at most (from {@code pg_stat_activity}, by {@link ConnectionSampler}),
 * the acquisition time of the shared keys (queueing included) and the hand-off time.
 * {@link #main} runs it alone, with {@code -Dpals.bench.quick=true} for a short run.
 */
final class Fleet {

    static final String APPLICATION_NAME = ConnectionSampler.applicationName("s11", "registry");
    static final int PROCESSES = 4;
    static final int PER_PROCESS = 50;
    static final int REGISTRIES = PROCESSES * PER_PROCESS;
    static final int HELD = 20;
    static final int SHARED_KEYS = 50;
    static final int HOLD_MICROS = 1_000;
    static final int PAUSE_MICROS = 20_000;

    /** What one run found; {@code runStart} and {@code runEnd}: the CPU read when the members began and ended. */
    record Result(Samples acquisitions, Samples handOffs, int connections, CpuUse runStart, CpuUse runEnd) {
        double seconds() {
            return runEnd.secondsSince(runStart);
        }
    }

    private final BenchmarkDatabase database;
    private final ConnectionSampler sampler;
    private final long runMillis;

    Fleet(BenchmarkDatabase database, ConnectionSampler sampler, long runMillis) {
        this.database = database;
        this.sampler = sampler;
        this.runMillis = runMillis;
    }

    Result measure() throws Exception {
        Path directory = Files.createTempDirectory("pals-fleet");
        Path slots = directory.resolve("slots");
        Files.write(slots, new byte[SHARED_KEYS * Long.BYTES]);
        List<Process> members = new ArrayList<>();
        try {
            for (int member = 0; member < PROCESSES; member++) {
                members.add(start(member, directory, slots));
            }
            for (Process member : members) {
                awaitReady(member);
            }
            CpuUse runStart = CpuUse.now();
            for (Process member : members) {
                Writer go = new OutputStreamWriter(member.getOutputStream(), StandardCharsets.UTF_8);
                go.write("GO\n");
                go.flush();
            }
            for (Process member : members) {
                if (!member.waitFor(runMillis + 120_000, TimeUnit.MILLISECONDS) || member.exitValue() != 0) {
                    throw new IllegalStateException("a fleet member failed or did not finish (see its standard error)");
                }
            }
            CpuUse runEnd = CpuUse.now();
            List<Long> acquisitions = new ArrayList<>();
            List<Long> handOffs = new ArrayList<>();
            for (int member = 0; member < PROCESSES; member++) {
                read(directory.resolve("acquisitions-" + member), acquisitions);
                read(directory.resolve("handoffs-" + member), handOffs);
            }
            return new Result(samples(acquisitions), samples(handOffs), sampler.peak(APPLICATION_NAME), runStart,
                    runEnd);
        } finally {
            members.forEach(Process::destroyForcibly);
            try (var files = Files.list(directory)) {
                for (Path file : files.toList()) {
                    Files.deleteIfExists(file);
                }
            }
            Files.deleteIfExists(directory);
        }
    }

    private Process start(int member, Path directory, Path slots) throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path")));
        command.addAll(database.forkArguments());
        command.addAll(List.of(FleetMember.class.getName(), String.valueOf(member), String.valueOf(PER_PROCESS),
                String.valueOf(HELD), String.valueOf(SHARED_KEYS), String.valueOf(HOLD_MICROS),
                String.valueOf(PAUSE_MICROS), String.valueOf(runMillis), slots.toString(),
                directory.resolve("acquisitions-" + member).toString(), directory.resolve("handoffs-" + member).toString()));
        return new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    private static void awaitReady(Process member) throws IOException {
        BufferedReader out = new BufferedReader(new InputStreamReader(member.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        if (!"READY".equals(line)) {
            throw new IllegalStateException("a fleet member did not start (see its standard error): " + line);
        }
    }

    private static void read(Path file, List<Long> into) throws IOException {
        try (InputStream in = Files.newInputStream(file); DataInputStream data = new DataInputStream(in)) {
            for (long left = Files.size(file) / Long.BYTES; left > 0; left--) {
                into.add(data.readLong());
            }
        }
    }

    private static Samples samples(List<Long> nanos) {
        if (nanos.isEmpty()) {
            throw new IllegalStateException("the fleet took no samples: a run too short, or no contention");
        }
        return new Samples(nanos.stream().mapToLong(Long::longValue).toArray());
    }

    /** Adds scenario 11's table and its target. */
    static void report(Report report, BenchmarkDatabase database, ConnectionSampler sampler, boolean quick)
            throws Exception {
        Result result = new Fleet(database, sampler, quick ? 5_000 : 30_000).measure();
        report.table("11. A fleet of " + REGISTRIES + " registries",
                REGISTRIES + " registries in " + PROCESSES + " JVMs on one server, each with a lock pool of its own at "
                        + "the starter's defaults (the registry's " + RegistryContender.CONNECTIONS + " connections and "
                        + "one for the health check), as " + REGISTRIES + " service instances would be. Each holds "
                        + HELD + " long-lived locks (" + Report.count(REGISTRIES * HELD) + " in all) while one thread of "
                        + "each takes and releases locks on " + SHARED_KEYS + " keys all share, holding each "
                        + HOLD_MICROS / 1_000 + " ms and pausing up to " + PAUSE_MICROS / 1_000 + " ms between, for "
                        + String.format(Locale.ROOT, "%.0f s", result.seconds()) + ". Acquisition: from asking to "
                        + "holding, queueing behind other holders included. Hand-off: from the previous holder's release "
                        + "to the waiter's acquisition, in another JVM or the same (one monotonic clock on one machine). "
                        + "Connections: the most the fleet had open at once.",
                "connections (per registry)", "acquisitions", "acquire median", "acquire p99", "hand-offs",
                "hand-off median", "hand-off p99");
        report.row(result.connections() + String.format(Locale.ROOT, " (%.2f)", (double) result.connections() / REGISTRIES),
                Report.count(result.acquisitions().count()), Report.micros(result.acquisitions().medianMicros()),
                Report.micros(result.acquisitions().percentileMicros(0.99)), Report.count(result.handOffs().count()),
                Report.micros(result.handOffs().medianMicros()), Report.micros(result.handOffs().percentileMicros(0.99)));
        report.endTable();
        double machineBusy = result.runEnd().machineBusySince(result.runStart());
        if (!Double.isNaN(machineBusy)) {
            report.paragraph(String.format(Locale.ROOT, "Over the run the machine's %d cores were %.0f%% busy, for the "
                    + "fleet's JVMs, the server's backends and this JVM together%s.", result.runEnd().cores(),
                    100 * machineBusy, machineBusy >= CpuUse.SATURATED
                            ? ": the cores were saturated, and a hand-off's tail includes its wait for one" : ""));
        }
        report.target("11. A fleet of " + REGISTRIES + " registries: <= 2 connections per registry, hand-off p99 <= 50 ms",
                result.connections() + " connections, hand-off p99 " + Report.micros(result.handOffs().percentileMicros(0.99)),
                result.connections() <= 2 * REGISTRIES && result.handOffs().percentileMicros(0.99) <= 50_000);
    }

    /** Runs scenario 11 alone and prints its table. */
    public static void main(String[] args) throws Exception {
        BenchmarkDatabase database = BenchmarkDatabase.start();
        Report report = new Report("Scenario 11 alone", List.of("PostgreSQL max_connections "
                + database.queryString("SHOW max_connections")));
        try (ConnectionSampler sampler = new ConnectionSampler(database)) {
            report(report, database, sampler, Boolean.getBoolean("pals.bench.quick"));
        }
        System.out.println(report.markdown());
        System.exit(0);
    }
}
