package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class LeaderElectionTest extends LockTestSupport {

    /** Writes "granted" and "revoked" or "lost", in order, also to a log shared by several elections. */
    static final class Events implements LeadershipListener {
        final List<String> seen = new CopyOnWriteArrayList<>();
        private final String who;
        private final List<String> shared;

        Events(String who, List<String> shared) {
            this.who = who;
            this.shared = shared;
        }

        Events() {
            this("", new CopyOnWriteArrayList<>());
        }

        @Override
        public void granted(LeaderElection election) {
            seen.add("granted");
            shared.add(who + " granted");
        }

        @Override
        public void revoked(LeaderElection election, @Nullable LockLostException lost) {
            seen.add(lost == null ? "revoked" : "lost");
            shared.add(who + (lost == null ? " revoked" : " lost"));
        }
    }

    private static final Duration RETRY = Duration.ofMillis(300);

    private static LeaderElection elect(LockRegistry registry, Events events) {
        return LeaderElection.builder(registry, "leader").retryInterval(RETRY).listener(events).start();
    }

    /** Counts the acquisitions of a registry that found the lock held elsewhere: the rounds a follower lost. */
    private static final class LostRounds implements LockObserver {
        final AtomicInteger count = new AtomicInteger();

        @Override
        public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
            return (outcome, failure) -> {
                if (outcome == Outcome.CONTENDED) {
                    count.incrementAndGet();
                }
            };
        }
    }

    @Test
    void aFollowerLosesEveryRoundWhileTheLeaderLeadsAndTakesOverWithinItsRetryIntervalOnceItCloses() {
        List<String> log = new CopyOnWriteArrayList<>();
        Events first = new Events("one", log);
        Events second = new Events("two", log);
        LostRounds lostRounds = new LostRounds();
        try (LeaderElection one = elect(registry(), first)) {
            await().atMost(Duration.ofSeconds(30)).until(one::isLeader);
            try (LeaderElection two = elect(registry(LockRegistry.builder(dataSource).namespace(namespace)
                    .observer(lostRounds)), second)) {
                await().atMost(Duration.ofSeconds(30)).until(() -> lostRounds.count.get() >= 3);
                assertThat(two.isLeader()).isFalse();
                assertThat(log).containsExactly("one granted");

                long closed = System.nanoTime();
                one.close();

                // documented: another instance leads within its retry interval
                await().atMost(RETRY.plus(SLACK)).until(two::isLeader);
                assertThat(Duration.ofNanos(System.nanoTime() - closed)).isLessThan(RETRY.plus(SLACK));
                assertThat(log).containsExactly("one granted", "one revoked", "two granted");
            }
            assertThat(second.seen).containsExactly("granted", "revoked");
        }
    }

    @Test
    void aLeaderWhoseSessionEndsIsRevokedWithTheLossWithinTheLossCheckIntervalAndAnotherLeads() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        Events first = new Events("one", log);
        Events second = new Events("two", log);
        Duration lossCheckInterval = Duration.ofMillis(300);
        HikariDataSource ownPool = DB.dataSource(4);
        try (LockRegistry own = LockRegistry.builder(ownPool).namespace(namespace)
                .lossCheckInterval(lossCheckInterval).build();
                LeaderElection one = elect(own, first)) {
            await().atMost(Duration.ofSeconds(30)).until(one::isLeader);
            try (LeaderElection two = elect(registry(), second)) {
                DB.terminateSessions(ownPool.getPoolName());

                // documented: revoked within the loss-check interval plus CHECK_INTERVAL
                await().atMost(lossCheckInterval.plus(LeaderElection.CHECK_INTERVAL).plus(SLACK))
                        .until(() -> first.seen.contains("lost"));
                assertThat(one.isLeader()).isFalse();
                await().atMost(RETRY.plus(SLACK)).until(two::isLeader);
                // the server freed the lock with the session, so the follower may lead before the event
                assertThat(log).startsWith("one granted").containsExactlyInAnyOrder("one granted", "one lost", "two granted");
            }
        } finally {
            ownPool.close();
        }
    }

    @Test
    void closingTheRegistryRevokesItsLeader() {
        Events events = new Events();
        LockRegistry registry = registry();
        LeaderElection election = elect(registry, events);
        await().atMost(Duration.ofSeconds(30)).until(election::isLeader);

        registry.close();

        await().atMost(Duration.ofSeconds(30)).until(() -> events.seen.size() == 2);
        assertThat(events.seen).containsExactly("granted", "revoked");
        assertThat(election.isLeader()).isFalse();
        election.close();
    }

    @Test
    void aListenerMayCloseItsElection() {
        Events events = new Events();
        LeaderElection election = LeaderElection.builder(registry(), "leader")
                .listener(new LeadershipListener() {
                    @Override
                    public void granted(LeaderElection leading) {
                        events.granted(leading);
                        leading.close();
                    }

                    @Override
                    public void revoked(LeaderElection leading, @Nullable LockLostException lost) {
                        events.revoked(leading, lost);
                    }
                }).start();
        await().atMost(Duration.ofSeconds(30)).until(() -> events.seen.size() == 2);
        assertThat(events.seen).containsExactly("granted", "revoked");
        assertThat(election.isLeader()).isFalse();
    }
}
