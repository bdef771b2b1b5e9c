package dev.pals.sample.demo;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the demo observed, the invariants it checks, and the report it prints. Pure data, so the
 * invariants can be tested without running the demo.
 *
 * @param jobRuns each run of the scheduled job: tick and instance, in tick order
 * @param expectedBalances per account, the sum of the deposits the clients saw succeed
 * @param balances per account, what the database holds at the end
 * @param lockWaitsNanos how long each deposit waited for its account's lock
 * @param depositsByInstance how many deposits each instance made
 */
public record DemoReport(List<JobRun> jobRuns, Map<Long, Long> expectedBalances, Map<Long, Long> balances,
        List<Long> lockWaitsNanos, Map<String, Long> depositsByInstance, int instances, Duration ran) {

    /** One run of the scheduled job. */
    public record JobRun(long tick, String instance) {
    }

    /** Ticks in which the job ran more than once: must be none. */
    public List<Long> ticksRunTwice() {
        List<Long> twice = new ArrayList<>();
        runsPerTick().forEach((tick, runs) -> {
            if (runs.size() > 1) {
                twice.add(tick);
            }
        });
        return twice;
    }

    /** Ticks between the first and last run in which nobody ran the job: reported, not failed. */
    public long ticksMissed() {
        TreeMap<Long, List<String>> perTick = runsPerTick();
        if (perTick.isEmpty()) {
            return 0;
        }
        return perTick.lastKey() - perTick.firstKey() + 1 - perTick.size();
    }

    /** Deposits acknowledged to a client but missing from the balances: must be 0. */
    public long lostUpdates() {
        long lost = 0;
        for (Map.Entry<Long, Long> expected : expectedBalances.entrySet()) {
            lost += Math.abs(expected.getValue() - balances.getOrDefault(expected.getKey(), 0L));
        }
        return lost;
    }

    /** Whether every invariant held: the job ran, never twice per tick, and nothing was lost. */
    public boolean invariantsHeld() {
        return !jobRuns.isEmpty() && ticksRunTwice().isEmpty() && lostUpdates() == 0
                && expectedBalances.equals(balances);
    }

    /** The report, as the demo prints it. */
    public String render() {
        StringBuilder out = new StringBuilder();
        out.append("\nPALs demo: ").append(instances).append(" instances of the sample service, one PostgreSQL, ")
                .append(ran.toSeconds()).append(" s\n\n");
        TreeMap<Long, List<String>> perTick = runsPerTick();
        out.append("Scheduled job (lock 'report-job', non-blocking, skip when taken)\n");
        out.append(String.format("  ticks run: %d, ran twice in a tick: %d %s, ticks missed: %d%n", perTick.size(),
                ticksRunTwice().size(), ticksRunTwice().isEmpty() ? "(ok)" : "(VIOLATION " + ticksRunTwice() + ")",
                ticksMissed()));
        out.append("  last ticks, and which instance held the lock:\n");
        perTick.descendingMap().entrySet().stream().limit(5).forEach(entry ->
                out.append(String.format("    tick %d -> %s%n", entry.getKey(), String.join(", ", entry.getValue()))));
        Map<String, Long> runsByInstance = new TreeMap<>();
        jobRuns.forEach(run -> runsByInstance.merge(run.instance(), 1L, Long::sum));
        out.append("  runs per instance: ").append(runsByInstance).append("\n\n");

        out.append("Accounts (lock 'account:<id>', TRANSACTION scope, read-then-write without row locks)\n");
        out.append(String.format("  %-8s %12s %12s%n", "account", "expected", "balance"));
        expectedBalances.forEach((account, expected) -> out.append(String.format("  %-8d %12d %12d%s%n", account,
                expected, balances.getOrDefault(account, 0L),
                expected.equals(balances.get(account)) ? "" : "  <- MISMATCH")));
        out.append("  lost updates: ").append(lostUpdates()).append(lostUpdates() == 0 ? " (ok)" : " (VIOLATION)")
                .append("\n");
        out.append("  deposits per instance: ").append(new TreeMap<>(depositsByInstance)).append("\n");
        List<Long> sorted = new ArrayList<>(lockWaitsNanos);
        sorted.sort(null);
        out.append(String.format("  lock waits: %d, median %.2f ms, max %.2f ms%n%n", sorted.size(),
                sorted.isEmpty() ? 0.0 : sorted.get(sorted.size() / 2) / 1e6,
                sorted.isEmpty() ? 0.0 : sorted.get(sorted.size() - 1) / 1e6));
        out.append(invariantsHeld() ? "RESULT: all invariants held\n" : "RESULT: INVARIANTS VIOLATED\n");
        return out.toString();
    }

    private TreeMap<Long, List<String>> runsPerTick() {
        TreeMap<Long, List<String>> perTick = new TreeMap<>();
        jobRuns.forEach(run -> perTick.computeIfAbsent(run.tick(), tick -> new ArrayList<>()).add(run.instance()));
        return perTick;
    }
}
