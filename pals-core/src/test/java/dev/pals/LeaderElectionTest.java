package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
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

    private static LeaderElection elect(LockRegistry registry, Events events) {
        return LeaderElection.builder(registry, "leader").retryInterval(Duration.ofMillis(100)).listener(events)
                .start();
    }

    @Test
    void oneInstanceLeadsAndAnotherTakesOverOnlyOnceItCloses() {
        List<String> log = new CopyOnWriteArrayList<>();
        Events first = new Events("one", log);
        Events second = new Events("two", log);
        try (LeaderElection one = elect(registry(), first)) {
            await().atMost(Duration.ofSeconds(30)).until(one::isLeader);
            try (LeaderElection two = elect(registry(), second)) {
                assertThat(two.isLeader()).isFalse();

                one.close();

                await().atMost(Duration.ofSeconds(30)).until(two::isLeader);
                assertThat(log).containsExactly("one granted", "one revoked", "two granted");
            }
            assertThat(second.seen).containsExactly("granted", "revoked");
        }
    }

    @Test
    void aLeaderWhoseSessionEndsIsRevokedWithTheLossAndAnotherLeads() throws Exception {
        Events first = new Events();
        Events second = new Events();
        HikariDataSource ownPool = DB.dataSource(4);
        try (LockRegistry own = LockRegistry.builder(ownPool).namespace(namespace)
                .lossCheckInterval(Duration.ofMillis(100)).build();
                LeaderElection one = elect(own, first)) {
            await().atMost(Duration.ofSeconds(30)).until(one::isLeader);
            try (LeaderElection two = elect(registry(), second)) {
                DB.terminateSessions(ownPool.getPoolName());

                await().atMost(Duration.ofSeconds(30)).until(() -> first.seen.contains("lost"));
                assertThat(one.isLeader()).isFalse();
                await().atMost(Duration.ofSeconds(30)).until(two::isLeader);
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
