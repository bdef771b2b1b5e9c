package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/** A {@link LeadershipListener} that throws is logged and ignored: the election goes on as if it had returned. */
class LeadershipListenerFailureTest extends LockTestSupport {

    /** Writes "granted", "revoked" or "lost", then throws what it was given for that call. */
    static final class Throwing implements LeadershipListener {
        final List<String> seen = new CopyOnWriteArrayList<>();
        private final @Nullable Error onGranted;
        private final @Nullable RuntimeException onRevoked;

        Throwing(@Nullable Error onGranted, @Nullable RuntimeException onRevoked) {
            this.onGranted = onGranted;
            this.onRevoked = onRevoked;
        }

        @Override
        public void granted(LeaderElection election) {
            seen.add("granted");
            if (onGranted != null) {
                throw onGranted;
            }
        }

        @Override
        public void revoked(LeaderElection election, @Nullable LockLostException lost) {
            seen.add(lost == null ? "revoked" : "lost");
            if (onRevoked != null) {
                throw onRevoked;
            }
        }
    }

    private static LeaderElection elect(LockRegistry registry, LeadershipListener listener) {
        return LeaderElection.builder(registry, "leader").retryInterval(Duration.ofMillis(100)).listener(listener)
                .start();
    }

    @Test
    void aLinkageErrorFromGrantedLeavesTheInstanceLeadingAndALaterLossIsStillTold() throws Exception {
        Throwing listener = new Throwing(new NoClassDefFoundError("dev/pals/Missing"), null);
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .lossCheckInterval(Duration.ofMillis(100)));
        try (LeaderElection election = elect(registry, listener)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> listener.seen.contains("granted"));
            assertThat(election.isLeader()).isTrue();

            DB.terminateSessions(dataSource.getPoolName());

            await().atMost(Duration.ofSeconds(30)).until(() -> listener.seen.contains("lost"));
        }
    }

    @Test
    void anExceptionFromRevokedStillReleasesTheLockForTheNextLeader() {
        Throwing listener = new Throwing(null, new IllegalStateException("the listener failed"));
        try (LeaderElection one = elect(registry(), listener)) {
            await().atMost(Duration.ofSeconds(30)).until(one::isLeader);
            try (LeaderElection two = elect(registry(), new Throwing(null, null))) {
                one.close();

                assertThat(listener.seen).containsExactly("granted", "revoked");
                await().atMost(Duration.ofSeconds(30)).until(two::isLeader);
            }
        }
    }
}
