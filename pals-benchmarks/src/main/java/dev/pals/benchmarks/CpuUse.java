package dev.pals.benchmarks;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * A reading of the CPU used so far: by this JVM, and by the whole machine where the system tells
 * (Linux's {@code /proc/stat}, which also counts the database server's backends when they run on
 * this machine). Two readings give what a stretch of work cost, to say what bounds a throughput.
 */
final class CpuUse {

    /** The busy share of the machine's cores above which the report calls them saturated. */
    static final double SATURATED = 0.9;

    private static final Path STAT = Path.of("/proc/stat");
    private static final Pattern FIELDS = Pattern.compile("\\s+");
    private static final Pattern CORE = Pattern.compile("cpu\\d+ .*");

    private final long wallNanos;
    private final long jvmNanos;
    /** The machine's busy and idle time, in the system's ticks; null where the system does not tell. */
    private final long @Nullable [] machineTicks;
    private final int cores;

    private CpuUse(long wallNanos, long jvmNanos, long @Nullable [] machineTicks, int cores) {
        this.wallNanos = wallNanos;
        this.jvmNanos = jvmNanos;
        this.machineTicks = machineTicks;
        this.cores = cores;
    }

    static CpuUse now() {
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long jvm = os.getProcessCpuTime();
        if (jvm < 0) {
            throw new IllegalStateException("This JVM does not tell its process's CPU time "
                    + "(OperatingSystemMXBean.getProcessCpuTime() is -1), which scenario 2b reports; run the "
                    + "benchmark on a HotSpot-based JDK");
        }
        List<String> stat = machineStat();
        long @Nullable [] ticks = null;
        int cores = 0;
        if (!stat.isEmpty() && stat.get(0).startsWith("cpu ")) {
            // user nice system idle iowait irq softirq steal ...: idle and iowait are idle, the rest busy
            long[] fields = FIELDS.splitAsStream(stat.get(0).trim()).skip(1).limit(8).mapToLong(Long::parseLong)
                    .toArray();
            long busy = 0;
            long idle = 0;
            for (int i = 0; i < fields.length; i++) {
                if (i == 3 || i == 4) {
                    idle += fields[i];
                } else {
                    busy += fields[i];
                }
            }
            ticks = new long[] {busy, idle};
            cores = (int) stat.stream().filter(line -> CORE.matcher(line).matches()).count();
        }
        return new CpuUse(System.nanoTime(), jvm, ticks, cores);
    }

    private static List<String> machineStat() {
        try {
            return Files.isReadable(STAT) ? Files.readAllLines(STAT) : List.of();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Seconds of CPU this JVM used since {@code start}. */
    double jvmSecondsSince(CpuUse start) {
        return (jvmNanos - start.jvmNanos) / 1e9;
    }

    /**
     * Seconds of CPU the whole machine used since {@code start}: its busy share of the time, times the
     * elapsed time, times its cores; {@link Double#NaN} where the system does not tell.
     */
    double machineSecondsSince(CpuUse start) {
        return machineBusySince(start) * secondsSince(start) * cores;
    }

    /** Seconds of wall-clock time since {@code start}. */
    double secondsSince(CpuUse start) {
        return (wallNanos - start.wallNanos) / 1e9;
    }

    /**
     * The share of the machine's cores that were busy since {@code start}, from 0 to 1;
     * {@link Double#NaN} where the system does not tell.
     */
    double machineBusySince(CpuUse start) {
        long[] end = machineTicks;
        long[] begin = start.machineTicks;
        if (end == null || begin == null || cores == 0) {
            return Double.NaN;
        }
        double busy = end[0] - begin[0];
        double all = busy + end[1] - begin[1];
        return all == 0 ? 0 : busy / all;
    }

    /**
     * The share of the machine's cores this JVM kept busy since {@code start}, from 0 to 1;
     * {@link Double#NaN} where the system does not count the cores.
     */
    double jvmBusySince(CpuUse start) {
        double seconds = secondsSince(start);
        return cores == 0 ? Double.NaN : seconds == 0 ? 0 : jvmSecondsSince(start) / (seconds * cores);
    }

    /** The machine's cores as the system counts them, 0 where it does not tell. */
    int cores() {
        return cores;
    }
}
