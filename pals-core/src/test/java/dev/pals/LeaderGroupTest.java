package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * {@link LeaderElection.Builder#group}: the group the election's lock reports under in metrics;
 * it does not change the lock, so elections on one name exclude each other whatever their groups.
 */
class LeaderGroupTest extends LockTestSupport {

    /** Each acquisition as the observers see it: "group OUTCOME". */
    static final class Tries implements LockObserver {
        final List<String> seen = new CopyOnWriteArrayList<>();

        @Override
        public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
            return (outcome, failure) -> seen.add(lock.group() + " " + outcome);
        }
    }

    private final Tries tries = new Tries();

    private LockRegistry observed() {
        return registry(LockRegistry.builder(dataSource).namespace(namespace).observer(tries));
    }

    private static LeaderElection.Builder election(LockRegistry registry) {
        return LeaderElection.builder(registry, "leader").retryInterval(Duration.ofMillis(100));
    }

    @Test
    void electionsInDifferentGroupsOnTheSameNameExcludeEachOther() {
        try (LeaderElection one = election(registry()).group("blue").start()) {
            await().atMost(Duration.ofSeconds(30)).until(one::isLeader);
            try (LeaderElection two = election(observed()).group("green").start()) {
                await().atMost(Duration.ofSeconds(30)).until(() -> tries.seen.size() >= 3 || two.isLeader());

                assertThat(tries.seen).startsWith("green CONTENDED", "green CONTENDED", "green CONTENDED");
                assertThat(two.isLeader()).isFalse();
                one.close();
                await().atMost(Duration.ofSeconds(30)).until(two::isLeader);
            }
        }
    }

    @Test
    void theLockReportsUnderTheGroupGivenOrLeaderAndTheNameByDefault() {
        LockRegistry registry = observed();
        try (LeaderElection grouped = election(registry).group("elections").start()) {
            await().atMost(Duration.ofSeconds(30)).until(grouped::isLeader);
        }
        try (LeaderElection plain = election(registry).start()) {
            await().atMost(Duration.ofSeconds(30)).until(plain::isLeader);
        }

        assertThat(tries.seen).containsExactly("elections ACQUIRED", "leader:leader ACQUIRED");
    }

    @Test
    void blankGroupIsRefused() {
        LeaderElection.Builder builder = election(registry());

        assertThatThrownBy(() -> builder.group(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("group must not be null or blank");
    }
}
