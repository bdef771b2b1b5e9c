package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Keys are PALs' keys, so Java and Python services exclude each other on the same name. */
class KeyDerivationTest extends LockTestSupport {

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
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lock name must not be null or blank");
        assertThatThrownBy(() -> registry.lock((String) null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lock name must not be null or blank");
    }
}
