package dev.pals.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class CpuUseTest {

    @Test
    void aSpinningThreadShowsAsBusyCoresOfThisJvmAndOfTheMachine() {
        assumeTrue(Files.isReadable(Path.of("/proc/stat")), "the machine's CPU is read from /proc/stat (Linux)");
        CpuUse before = CpuUse.now();
        long end = System.nanoTime() + 500_000_000L;
        long spins = 0;
        while (System.nanoTime() < end) {
            spins++;
        }
        CpuUse after = CpuUse.now();

        assertThat(spins).isPositive();
        assertThat(after.secondsSince(before)).isGreaterThanOrEqualTo(0.5);
        // one core spun for most of the time, on a shared machine that may have taken some of it
        double oneCore = 1.0 / after.cores();
        assertThat(after.jvmBusySince(before)).isBetween(0.25 * oneCore, 1.0);
        assertThat(after.machineBusySince(before)).isBetween(0.25 * oneCore, 1.0);
    }
}
