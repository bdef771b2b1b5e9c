package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * An unlock checks for a waiter's marker unless it was sent shortly after a statement found the
 * wait flag free, which no registry waiting by notification holds; the waits such an unlock may
 * miss are {@link ReleaseWakeupsTest}'s.
 */
class WaitFlagTest extends LockTestSupport {

    private static final String PLAIN_UNLOCK = "SELECT pg_advisory_unlock(?)";
    private static final String READS_FLAG = ", pg_try_advisory_xact_lock(?::bigint)";

    private final List<String> executed = new CopyOnWriteArrayList<>();

    @Test
    void anUnlockRightAfterOneThatReadTheFlagFreeIsThePlainUnlock() throws Exception {
        Session session = recordedSession();

        lockAndUnlock(session, LockKey.of(21_101L));
        assertThat(executed.get(executed.size() - 1)).as("the first unlock checks the marker and reads the flag")
                .contains("pg_notify").endsWith(READS_FLAG);
        lockAndUnlock(session, LockKey.of(21_102L));

        assertThat(executed.get(executed.size() - 1)).isEqualTo(PLAIN_UNLOCK);
    }

    @Test
    void whileAWaitingRegistryHoldsTheFlagUnlocksCheckMarkersAndReadTheFlagOnlyNowAndThen() throws Exception {
        Connection waiting = outsider();
        try (PreparedStatement flag = waiting.prepareStatement("SELECT pg_advisory_lock_shared(?)")) {
            flag.setLong(1, ReleaseWakeups.FLAG);
            flag.execute();
        }
        Session session = recordedSession();

        lockAndUnlock(session, LockKey.of(21_111L));
        lockAndUnlock(session, LockKey.of(21_112L));

        assertThat(executed.get(executed.size() - 1)).as("checks the marker, without reading the flag again")
                .contains("pg_notify").doesNotEndWith(READS_FLAG);
    }

    @Test
    void aReadingIsTrustedForItsWhileFromWhenItsStatementWasSent() {
        WaitFlag flag = new WaitFlag();
        long sentAt = System.nanoTime();
        assertThat(flag.check(sentAt)).as("never read").isEqualTo(WaitFlag.Check.MARKERS_AND_FLAG);

        flag.read(true, sentAt);
        assertThat(flag.check(sentAt + WaitFlag.TRUST_NANOS - 1)).isEqualTo(WaitFlag.Check.NONE);
        assertThat(flag.check(sentAt + WaitFlag.TRUST_NANOS)).isEqualTo(WaitFlag.Check.MARKERS_AND_FLAG);

        flag.read(false, sentAt + WaitFlag.TRUST_NANOS);
        assertThat(flag.check(sentAt + 2 * WaitFlag.TRUST_NANOS - 1)).isEqualTo(WaitFlag.Check.MARKERS);
        assertThat(flag.check(sentAt + 2 * WaitFlag.TRUST_NANOS)).isEqualTo(WaitFlag.Check.MARKERS_AND_FLAG);
    }

    private Session recordedSession() throws Exception {
        Connection connection = outsider();
        return new Session(recordingExecutions(connection, executed::add), backendPid(connection), 0, new WaitFlag());
    }

    private static void lockAndUnlock(Session session, LockKey key) throws Exception {
        assertThat(session.tryLock(key, LockMode.EXCLUSIVE)).isTrue();
        assertThat(session.unlock(key, LockMode.EXCLUSIVE)).isTrue();
    }
}
