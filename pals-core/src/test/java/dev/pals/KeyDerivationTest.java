package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Keys are PALs' keys, so Java and Python services exclude each other on the same name. */
class KeyDerivationTest extends LockTestSupport {

    /** A bigint with both halves distinct and the sign bit set: 0x9ABCDEF0 high, 0x12345678 low. */
    private static final long RAW_KEY = 0x9ABC_DEF0_1234_5678L;

    @ParameterizedTest(name = "({0}, {1}) -> {2}")
    @CsvSource(nullValues = "NONE", value = {
        "my-app-name, my-lock, 6416704380552784171",
        "TestLock, test_it, -5798183527148201584",
        "foo, a, 4410012639645272562",
        "NONE, nightly-report, 7635146791061737145",
        "漢字, ロック, -4466333107413610909",
    })
    void nameDerivesTheSameKeyAsPals(String namespace, String name, long expected) {
        assertThat(LockKey.of(namespace, name).value()).isEqualTo(expected);
    }

    @Test
    void heldLockAppearsInPgLocksUnderItsDerivedKey() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace("my-app-name"));
        AdvisoryLock lock = registry.lock("my-lock");
        lock.tryAcquire();

        LockKey key = LockKey.of(6416704380552784171L);
        assertThat(lock.key()).isEqualTo(key);
        assertThat(grantedOnServer(key)).isEqualTo(1);
        lock.release();
    }

    @Test
    void rawBigintKeyLocksThatKey() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock(-42L);
        lock.tryAcquire();

        try (var statement = outsider().createStatement()) {
            var rows = statement.executeQuery("SELECT pg_try_advisory_lock(-42)");
            rows.next();
            assertThat(rows.getBoolean(1)).isFalse();
        }
        assertThat(lock.key().objSubId()).isEqualTo(1);
        lock.release();
    }

    @Test
    void intPairKeyLocksThePairKeyspaceOnly() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock pair = registry.lock(7, 9);
        pair.tryAcquire();

        try (var statement = outsider().createStatement()) {
            var rows = statement.executeQuery("SELECT pg_try_advisory_lock(7, 9), pg_try_advisory_lock("
                    + LockKey.of(7, 9).value() + ")");
            rows.next();
            assertThat(rows.getBoolean(1)).as("same pair").isFalse();
            assertThat(rows.getBoolean(2)).as("bigint with the same bits").isTrue();
            statement.execute("SELECT pg_advisory_unlock_all()");
        }
        assertThat(grantedOnServer(LockKey.of(7, 9))).isEqualTo(1);
        pair.release();
    }

    @Test
    void waitOnAPairKeyWaitsInTheServerUntilThePairIsReleased() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock pair = registry.lock(7, 9);
        Connection holder = outsider();
        try (var statement = holder.createStatement()) {
            statement.execute("SELECT pg_advisory_lock(7, 9)");
        }

        // the wait binds the pair and then its lock_timeout: a wrong parameter fails the wait at once
        CompletableFuture<Boolean> waiting = pair.acquireAsync(Duration.ofSeconds(60));
        await().atMost(Duration.ofSeconds(30)).until(() -> waiting.isDone() || waitingOnServer(pair.key()) > 0);
        assertThat(waiting).isNotDone();
        unlockAll(holder);

        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(grantedOnServer(LockKey.of(7, 9))).isEqualTo(1);
        pair.release();
    }

    @Test
    void keysAreEqualExactlyWhenTheyAreTheSameKeyInTheSameKeySpace() {
        assertThat(LockKey.of("my-app-name", "my-lock")).isEqualTo(LockKey.of(6416704380552784171L))
                .hasSameHashCodeAs(LockKey.of(6416704380552784171L));
        assertThat(LockKey.of(7, 9)).isEqualTo(LockKey.of(7, 9)).hasSameHashCodeAs(LockKey.of(7, 9));
        assertThat(LockKey.of(1)).isNotEqualTo(LockKey.of(2));
        // PostgreSQL keeps the two key spaces apart, so the same bits are two different locks
        assertThat(LockKey.of(0, 1)).isNotEqualTo(LockKey.of(1));
        assertThat(LockKey.of(1)).isNotEqualTo(LockKey.of(0, 1));
    }

    @Test
    void lockTakenByKeyIsNamedByTheArgumentsOfPgAdvisoryLock() {
        LockRegistry registry = registry();

        assertThat(registry.lock(-42L).name()).isEqualTo("-42");
        assertThat(registry.lock(7, 9).name()).isEqualTo("(7, 9)");
        assertThat(registry.lock(-1, Integer.MIN_VALUE).name()).isEqualTo("(-1, -2147483648)");
    }

    @Test
    void nullOrBlankNameIsRejectedWithAMessageSayingSo() {
        LockRegistry registry = registry();

        assertThatThrownBy(() -> registry.lock(" "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lock name must not be null or blank")
                .hasMessageContaining("give a non-blank name");
        assertThatThrownBy(() -> registry.lock((String) null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lock name must not be null or blank")
                .hasMessageContaining("give a non-blank name");
    }

    @Test
    void blankNameIsRejectedByEveryCallThatTakesAName() {
        LockRegistry registry = registry();

        assertThatThrownBy(() -> registry.lock("", LockOptions.shared()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lock name must not be null or blank");
        assertThatThrownBy(() -> registry.transactionLock(" ", LockMode.EXCLUSIVE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lock name must not be null or blank");
        assertThatThrownBy(() -> registry.executeLocked("\t", () -> "ran"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lock name must not be null or blank");
        assertThatThrownBy(() -> LeaderElection.builder(registry, " "))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("election name must not be null or blank");
    }

    @Test
    void rawBigintKeyWithOptionsIsTheKeyPgLocksShowsAndExcludesAPlainSessionLockOnIt() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock(RAW_KEY, LockOptions.exclusive().withBlocking(false));
        Statement plain = outsider().createStatement();
        plain.execute("SELECT pg_advisory_lock(" + RAW_KEY + ")");

        assertThat(lock.tryAcquire()).as("while a plain session holds pg_advisory_lock(key)").isFalse();
        plain.execute("SELECT pg_advisory_unlock_all()");
        assertThat(lock.tryAcquire()).isTrue();

        assertThat(locksOfPool()).containsExactly("2596069104/305419896/1 ExclusiveLock");
        assertThat(tries(plain, "pg_try_advisory_lock(" + RAW_KEY + ")")).as("a plain session's try").isFalse();
        lock.release();
    }

    @Test
    void rawBigintKeyIsTakenInTheModeOfItsOptions() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock(RAW_KEY, LockOptions.shared());
        Statement plain = outsider().createStatement();

        assertThat(lock.tryAcquire()).isTrue();

        assertThat(locksOfPool()).containsExactly("2596069104/305419896/1 ShareLock");
        assertThat(tries(plain, "pg_try_advisory_lock(" + RAW_KEY + ")")).as("a plain exclusive try").isFalse();
        assertThat(tries(plain, "pg_try_advisory_lock_shared(" + RAW_KEY + ")")).as("a plain shared try").isTrue();
        plain.execute("SELECT pg_advisory_unlock_all()");
        lock.release();
    }

    @Test
    void intPairKeyWithOptionsIsThePairPgLocksShowsAndExcludesAPlainSessionLockOnIt() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock(-7, 9, LockOptions.exclusive().withBlocking(false));
        Statement plain = outsider().createStatement();
        plain.execute("SELECT pg_advisory_lock(-7, 9)");

        assertThat(lock.tryAcquire()).as("while a plain session holds pg_advisory_lock(k1, k2)").isFalse();
        plain.execute("SELECT pg_advisory_unlock_all()");
        assertThat(lock.tryAcquire()).isTrue();

        // the first key, an int, shows as the oid of its 32 bits
        assertThat(locksOfPool()).containsExactly("4294967289/9/2 ExclusiveLock");
        assertThat(tries(plain, "pg_try_advisory_lock(-7, 9)")).as("a plain session's try").isFalse();
        lock.release();
    }

    @Test
    void intPairKeyIsTakenInTheModeOfItsOptions() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock(-7, 9, LockOptions.shared());
        Statement plain = outsider().createStatement();

        assertThat(lock.tryAcquire()).isTrue();

        assertThat(locksOfPool()).containsExactly("4294967289/9/2 ShareLock");
        assertThat(tries(plain, "pg_try_advisory_lock(-7, 9)")).as("a plain exclusive try").isFalse();
        assertThat(tries(plain, "pg_try_advisory_lock_shared(-7, 9)")).as("a plain shared try").isTrue();
        plain.execute("SELECT pg_advisory_unlock_all()");
        lock.release();
    }

    /** The advisory locks the pool's sessions hold, as an outside observer reads pg_locks: "classid/objid/objsubid mode". */
    private List<String> locksOfPool() throws SQLException {
        try (Connection observer = DB.connect(); PreparedStatement statement = observer.prepareStatement(
                "SELECT l.classid::bigint || '/' || l.objid::bigint || '/' || l.objsubid || ' ' || l.mode "
                        + "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        + "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = ?")) {
            statement.setString(1, dataSource.getPoolName());
            List<String> locks = new ArrayList<>();
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    locks.add(rows.getString(1));
                }
            }
            return locks;
        }
    }

    private static boolean tries(Statement statement, String call) throws SQLException {
        try (ResultSet rows = statement.executeQuery("SELECT " + call)) {
            rows.next();
            return rows.getBoolean(1);
        }
    }
}
