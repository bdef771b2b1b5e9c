package dev.pals.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The comparison's Markdown: a header, one table per scenario, and the targets with their verdicts. */
final class Report {

    private final StringBuilder body = new StringBuilder();
    private final List<String> targets = new ArrayList<>();

    Report(String title, List<String> environment) {
        body.append("## ").append(title).append("\n\n");
        environment.forEach(line -> body.append("- ").append(line).append('\n'));
        body.append('\n');
    }

    /** Starts a scenario's table. */
    void table(String heading, String explanation, String... columns) {
        body.append("### ").append(heading).append("\n\n").append(explanation).append("\n\n");
        row((Object[]) columns);
        body.append('|').append("---|".repeat(columns.length)).append('\n');
    }

    void row(Object... cells) {
        body.append('|');
        for (Object cell : cells) {
            body.append(' ').append(cell).append(" |");
        }
        body.append('\n');
    }

    void paragraph(String text) {
        body.append(text).append("\n\n");
    }

    void endTable() {
        body.append('\n');
    }

    /** Records a target of the issue with what was measured and whether it was met. */
    void target(String target, String measured, boolean met) {
        targets.add("| " + target + " | " + measured + " | " + (met ? "met" : "**missed**") + " |");
    }

    String markdown() {
        StringBuilder all = new StringBuilder(body);
        all.append("### Targets\n\n| target | measured | verdict |\n|---|---|---|\n");
        targets.forEach(line -> all.append(line).append('\n'));
        return all.toString();
    }

    static String micros(double micros) {
        return micros >= 10_000 ? String.format(Locale.ROOT, "%,.1f ms", micros / 1_000)
                : String.format(Locale.ROOT, "%,.1f µs", micros);
    }

    static String ratio(double ratio) {
        return String.format(Locale.ROOT, "%.2fx", ratio);
    }

    static String count(double count) {
        return String.format(Locale.ROOT, "%,.0f", count);
    }
}
