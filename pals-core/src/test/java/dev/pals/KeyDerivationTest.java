package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
    void nullOrBlankNameIsRejectedWithAMessageSayingSo() {
        LockRegistry registry = registry();

        assertThatThrownBy(() -> registry.lock(" "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lock name must not be null or blank");
        assertThatThrownBy(() -> registry.lock((String) null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lock name must not be null or blank");
    }
}
