package dev.pals.sample.demo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pals.sample.demo.DemoReport.JobRun;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The demo's verdict: it passes only when every invariant held. */
class DemoReportTest {

    private static final Map<Long, Long> BALANCES = Map.of(1L, 10L, 2L, 20L);

    @Test
    void invariantsHoldWhenEachTickRanOnceAndNothingWasLost() {
        DemoReport report = report(List.of(new JobRun(1, "a"), new JobRun(2, "b"), new JobRun(4, "a")), BALANCES);

        assertThat(report.invariantsHeld()).isTrue();
        assertThat(report.ticksMissed()).isEqualTo(1);
        assertThat(report.render()).contains("ran twice in a tick: 0 (ok)").contains("lost updates: 0 (ok)")
                .contains("RESULT: all invariants held");
    }

    @Test
    void aTickRunTwiceViolatesTheInvariants() {
        DemoReport report = report(List.of(new JobRun(1, "a"), new JobRun(1, "b")), BALANCES);

        assertThat(report.ticksRunTwice()).containsExactly(1L);
        assertThat(report.invariantsHeld()).isFalse();
        assertThat(report.render()).contains("VIOLATION [1]").contains("RESULT: INVARIANTS VIOLATED");
    }

    @Test
    void aLostUpdateViolatesTheInvariants() {
        DemoReport report = report(List.of(new JobRun(1, "a")), Map.of(1L, 10L, 2L, 17L));

        assertThat(report.lostUpdates()).isEqualTo(3);
        assertThat(report.invariantsHeld()).isFalse();
        assertThat(report.render()).contains("MISMATCH").contains("lost updates: 3 (VIOLATION)");
    }

    @Test
    void aJobThatNeverRanViolatesTheInvariants() {
        assertThat(report(List.of(), BALANCES).invariantsHeld()).isFalse();
    }

    private static DemoReport report(List<JobRun> runs, Map<Long, Long> balances) {
        return new DemoReport(runs, BALANCES, balances, List.of(1_000_000L, 3_000_000L), Map.of("a", 2L), 2,
                Duration.ofSeconds(5));
    }
}
