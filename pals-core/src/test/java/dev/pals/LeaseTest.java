package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The lease's settings: checked when the registry is built, applied to each lock connection's
 * session, read back from the server, and reported.
 */
class LeaseTest extends LockTestSupport {

    @Test
    void buildRefusesASilentClientTimeoutNotSafelyAboveTheLossDetection() {
        LockRegistry.Builder builder = LockRegistry.builder(dataSource).lossCheckInterval(Duration.ofSeconds(5))
                .networkTimeout(Duration.ofSeconds(5)).silentClientTimeout(Duration.ofSeconds(15));

        assertThatThrownBy(builder::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("silentClientTimeout PT15S is too short")
                .hasMessageContaining("lossCheckInterval PT5S + networkTimeout PT5S = PT10S")
                .hasMessageContaining("longer than PT20S");
    }

    @Test
    void aSilentClientTimeoutJustAboveTheMarginIsAccepted() {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).lossCheckInterval(Duration.ofSeconds(5))
                .networkTimeout(Duration.ofSeconds(5)).silentClientTimeout(Duration.ofSeconds(21)));

        assertThat(registry.leaseBounds().silentClientTimeout()).isEqualTo(Duration.ofSeconds(21));
    }

    @Test
    void theDefaultsTellAHolderWithinThreeSecondsAndAskTheServerToFreeASilentClientsLocksAfterTwenty() {
        LockRegistry registry = registry();
        LeaseBounds before = registry.leaseBounds();
        assertThat(before.lossDetection()).isEqualTo(Duration.ofSeconds(3));
        assertThat(before.silentClientTimeout()).isEqualTo(Duration.ofSeconds(20));
        assertThat(before.serverRelease()).as("unknown before the first connection").isNull();
        assertThat(before.isSafe()).isFalse();

        AdvisoryLock lock = registry.lock("x");
        assertThat(lock.tryAcquire()).isTrue();

        LeaseBounds after = registry.leaseBounds();
        assertThat(after.serverRelease()).isEqualTo(Duration.ofSeconds(20));
        assertThat(after.problem()).isNull();
        assertThat(after.isSafe()).isTrue();
        lock.release();
    }

    @Test
    void theServerReportsTheKeepalivesTheSilentClientTimeoutAskedFor() {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .silentClientTimeout(Duration.ofSeconds(30)));
        AdvisoryLock lock = registry.lock("x");
        assertThat(lock.tryAcquire()).isTrue();

        // read back by the session itself: 15 s idle, then 5 probes 3 s apart, and a user timeout of 30 s
        LeaseBounds lease = registry.leaseBounds();
        assertThat(lease.serverSettings()).isEqualTo("tcp_keepalives_idle=15s, tcp_keepalives_interval=3s, "
                + "tcp_keepalives_count=5, tcp_user_timeout=30000ms");
        assertThat(lease.serverRelease()).isEqualTo(Duration.ofSeconds(30));
        lock.release();
    }

    @Test
    void settingsTheServerIgnoredAreReportedWithTheFiguresAndWhatToDo() {
        Lease lease = new Lease(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(20));

        String problem = lease.problem(new ServerLease(0, 0, 0, 0));

        assertThat(problem).contains("tcp_keepalives_idle=0s").contains("about 2 h 11 min")
                .contains("over TCP").contains("set tcp_keepalives_idle");
        assertThat(lease.problem(new ServerLease(2000, 1000, 2, 0))).as("a server bound of 4 s")
                .contains("may free a silent holder's locks after PT4S");
        assertThat(lease.problem(new ServerLease(10_000, 2000, 5, 20_000))).isNull();
    }

    @Test
    void theKeepaliveProbesNeverEndBeforeTheSilentClientTimeout() {
        for (int seconds = 2; seconds <= 3600; seconds++) {
            Lease lease = new Lease(Duration.ofMillis(100), Duration.ofMillis(100), Duration.ofSeconds(seconds));
            long probes = lease.keepalivesIdle + (long) lease.keepalivesInterval * lease.keepalivesCount;
            assertThat(probes).as("probes for a silent-client timeout of %d s", seconds).isGreaterThanOrEqualTo(seconds);
            ServerLease asked = new ServerLease(lease.keepalivesIdle * 1000L, lease.keepalivesInterval * 1000L,
                    lease.keepalivesCount, seconds * 1000L);
            assertThat(asked.release()).as("the server's bound when it applies them all")
                    .isEqualTo(Duration.ofSeconds(seconds));
        }
    }

    @Test
    void timeSettingsAreReadInTheirBaseUnitOrTheirOwn() {
        assertThat(Lease.millis("10", 1000)).isEqualTo(10_000);
        assertThat(Lease.millis("20000", 1)).isEqualTo(20_000);
        assertThat(Lease.millis("2min", 1000)).isEqualTo(120_000);
        assertThat(Lease.millis("250ms", 1000)).isEqualTo(250);
    }
}
