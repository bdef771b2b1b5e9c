package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.pals.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Fencing tokens: issued on the holding session from one sequence, greater for every later hold. */
class FencingTokenTest extends LockTestSupport {

    private LockRegistry fencing(HikariDataSource pool, FencingTokens setup) {
        return registry(LockRegistry.builder(pool).namespace(namespace).fencingTokens(setup)
                .lossCheckInterval(Duration.ofMillis(100)));
    }

    @Test
    void tokensGrowWithEveryAcquisitionAcrossHandlesAndRegistries() throws Exception {
        try (HikariDataSource otherPool = DB.dataSource(4)) {
            LockRegistry one = fencing(dataSource, FencingTokens.CREATE);
            LockRegistry two = fencing(otherPool, FencingTokens.CREATE);
            List<AdvisoryLock> handles = List.of(one.lock("job"), one.lock("job"), two.lock("job"), two.lock("job"));
            long previous = Long.MIN_VALUE;
            for (int round = 0; round < 3; round++) {
                for (AdvisoryLock handle : handles) {
                    try (HeldLock held = handle.hold(Duration.ofSeconds(5))) {
                        long token = held.fencingToken();
                        assertThat(token).isGreaterThan(previous);
                        previous = token;
                    }
                }
            }
            two.close();
        }
    }

    @Test
    void oneHoldKeepsOneTokenThroughReentryUntilItsLastRelease() throws Exception {
        AdvisoryLock lock = fencing(dataSource, FencingTokens.CREATE).lock("job");
        assertThat(lock.tryAcquire()).isTrue();
        long token = lock.fencingToken();
        assertThat(lock.tryAcquire()).isTrue();
        assertThat(lock.fencingToken()).isEqualTo(token);
        lock.release();
        assertThat(lock.fencingToken()).isEqualTo(token);
        lock.release();
        assertThat(lock.tryAcquire()).isTrue();
        assertThat(lock.fencingToken()).isGreaterThan(token);
        lock.release();
    }

    @Test
    void tokensKeepGrowingAfterTheRegistryIsClosedAndBuiltAgain() {
        LockRegistry first = fencing(dataSource, FencingTokens.CREATE);
        long before;
        try (HeldLock held = first.lock("job").hold()) {
            before = held.fencingToken();
        }
        first.close();
        try (HeldLock held = fencing(dataSource, FencingTokens.REQUIRE).lock("job").hold()) {
            assertThat(held.fencingToken()).isGreaterThan(before);
        }
    }

    @Test
    void aStaleTokenIsRefusedByAConditionalWriteAfterItsHolderLostTheLock() throws Exception {
        String table = TestDatabase.uniqueName("resource_").replace('-', '_');
        try (Connection resource = DB.connect(); Statement ddl = resource.createStatement();
                HikariDataSource otherPool = DB.dataSource(4)) {
            ddl.execute("CREATE TABLE " + table + " (id int PRIMARY KEY, value text, token bigint NOT NULL)");
            ddl.execute("INSERT INTO " + table + " VALUES (1, 'initial', 0)");
            try {
                AdvisoryLock stale = fencing(dataSource, FencingTokens.CREATE).lock("resource");
                assertThat(stale.tryAcquire()).isTrue();
                long staleToken = stale.fencingToken();
                assertThat(write(resource, table, "first", staleToken)).isTrue();

                // the holder's session ends, as in a pause or a split, and another registry takes the lock
                DB.terminateSessions(dataSource.getPoolName());
                LockRegistry other = fencing(otherPool, FencingTokens.CREATE);
                AdvisoryLock next = other.lock("resource");
                assertThat(next.tryAcquire(Duration.ofSeconds(10))).isTrue();
                long nextToken = next.fencingToken();
                assertThat(nextToken).isGreaterThan(staleToken);
                assertThat(write(resource, table, "second", nextToken)).isTrue();
                next.release();

                // the old holder kept going: its write carries its old token and is refused
                assertThat(write(resource, table, "stale", staleToken)).isFalse();
                assertThat(observe("SELECT token FROM " + table + " WHERE id = 1")).isEqualTo(nextToken);
                other.close();
                await().atMost(Duration.ofSeconds(10)).until(() -> !stale.isHeld());
                assertThatThrownBy(stale::fencingToken).isInstanceOf(LockLostException.class)
                        .hasMessageContaining("was lost, so it has no fencing token");
                assertThatThrownBy(stale::release).isInstanceOf(LockLostException.class);
            } finally {
                ddl.execute("DROP TABLE " + table);
            }
        }
    }

    /** The README's conditional write: applied only with a token at least as great as every one seen. */
    private static boolean write(Connection resource, String table, String value, long token) throws SQLException {
        try (PreparedStatement update = resource.prepareStatement(
                "UPDATE " + table + " SET value = ?, token = ? WHERE id = 1 AND token <= ?")) {
            update.setString(1, value);
            update.setLong(2, token);
            update.setLong(3, token);
            return update.executeUpdate() == 1;
        }
    }

    @Test
    void sharedHoldersGetTokensOfTheirOwnAndALaterExclusiveHolderAGreaterOne() throws Exception {
        LockRegistry registry = fencing(dataSource, FencingTokens.CREATE);
        AdvisoryLock reader = registry.lock("data", LockOptions.shared());
        AdvisoryLock otherReader = registry.lock("data", LockOptions.shared());
        assertThat(reader.tryAcquire()).isTrue();
        assertThat(otherReader.tryAcquire()).isTrue();
        long first = reader.fencingToken();
        long second = otherReader.fencingToken();
        assertThat(second).isNotEqualTo(first);
        reader.release();
        otherReader.release();
        try (HeldLock writer = registry.lock("data").hold()) {
            assertThat(writer.fencingToken()).isGreaterThan(Math.max(first, second));
        }
    }

    @Test
    void aHandleThatDoesNotHoldHasNoToken() {
        AdvisoryLock lock = fencing(dataSource, FencingTokens.CREATE).lock("job");
        assertThatThrownBy(lock::fencingToken).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is not held by this handle");
        HeldLock held = lock.hold();
        held.close();
        assertThatThrownBy(held::fencingToken).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed");
    }

    @Test
    void aRegistryBuiltWithoutFencingTokensRefusesToGiveOne() {
        try (HeldLock held = registry().lock("job").hold()) {
            assertThatThrownBy(held::fencingToken).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("LockRegistry.Builder.fencingTokens");
        }
    }

    @Test
    void aMissingSequenceThatTheUserMayNotCreateFailsWithTheStatementToRunAndStaysHeld() throws Exception {
        String url = DB.createDatabase();
        String role = TestDatabase.uniqueName("pals_user_").replace('-', '_');
        try (Connection admin = DB.connect(); Statement statement = admin.createStatement()) {
            statement.execute("CREATE ROLE " + role + " LOGIN PASSWORD 'secret'");
        }
        try (Connection owner = connectTo(url, DB.user(), DB.password());
                Statement statement = owner.createStatement()) {
            statement.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
        }
        try (HikariDataSource limited = poolAs(url, role)) {
            for (FencingTokens setup : FencingTokens.values()) {
                LockRegistry registry = fencing(limited, setup);
                try (HeldLock held = registry.lock("job").hold()) {
                    assertThatThrownBy(held::fencingToken).isInstanceOf(LockException.class)
                            .hasMessageContaining(FencingTokens.DDL)
                            .hasMessageContaining("GRANT USAGE ON SEQUENCE pals_fencing_tokens");
                    assertThat(held.isHeld()).isTrue();
                }
                registry.close();
            }
            try (Connection owner = connectTo(url, DB.user(), DB.password());
                    Statement statement = owner.createStatement()) {
                statement.execute(FencingTokens.DDL);
                statement.execute("GRANT USAGE ON SEQUENCE pals_fencing_tokens TO " + role);
            }
            LockRegistry registry = fencing(limited, FencingTokens.REQUIRE);
            try (HeldLock held = registry.lock("job").hold()) {
                assertThat(held.fencingToken()).isPositive();
            }
            registry.close();
        }
    }

    @Test
    void aSequenceThatCachesValuesPerSessionIsRefused() throws Exception {
        String url = DB.createDatabase();
        try (Connection owner = connectTo(url, DB.user(), DB.password());
                Statement statement = owner.createStatement()) {
            statement.execute("CREATE SEQUENCE pals_fencing_tokens CACHE 20");
        }
        try (HikariDataSource pool = DB.dataSource(url, 4)) {
            LockRegistry registry = fencing(pool, FencingTokens.CREATE);
            try (HeldLock held = registry.lock("job").hold()) {
                assertThatThrownBy(held::fencingToken).isInstanceOf(LockException.class)
                        .hasMessageContaining("CACHE 1");
            }
            registry.close();
        }
    }

    @Test
    void registriesRacingToCreateTheSequenceAllGetTokens() throws Exception {
        String url = DB.createDatabase();
        List<HikariDataSource> pools = new ArrayList<>();
        List<LockRegistry> registries = new ArrayList<>();
        ExecutorService executor = Executors.newFixedThreadPool(6);
        try {
            List<Future<Long>> tokens = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                HikariDataSource pool = DB.dataSource(url, 2);
                pools.add(pool);
                LockRegistry registry = fencing(pool, FencingTokens.CREATE);
                registries.add(registry);
                AdvisoryLock lock = registry.lock("job-" + i);
                tokens.add(executor.submit(() -> {
                    try (HeldLock held = lock.hold()) {
                        return held.fencingToken();
                    }
                }));
            }
            List<Long> got = new ArrayList<>();
            for (Future<Long> token : tokens) {
                got.add(token.get(30, TimeUnit.SECONDS));
            }
            assertThat(got).doesNotHaveDuplicates().allMatch(token -> token > 0);
        } finally {
            executor.shutdownNow();
            registries.forEach(LockRegistry::close);
            pools.forEach(HikariDataSource::close);
        }
    }

    @Test
    void anInMemoryRegistryCountsTokensInTheJvm() {
        LockRegistry registry = registry(LockRegistry.inMemory().fencingTokens(FencingTokens.REQUIRE));
        long first;
        try (HeldLock held = registry.lock("job").hold()) {
            first = held.fencingToken();
            assertThat(held.fencingToken()).isEqualTo(first);
        }
        try (HeldLock held = registry.lock("job").hold()) {
            assertThat(held.fencingToken()).isGreaterThan(first);
        }
        AdvisoryLock free = registry.lock("job");
        assertThatThrownBy(free::fencingToken).isInstanceOf(IllegalStateException.class);
        try (HeldLock held = registry(LockRegistry.inMemory()).lock("job").hold()) {
            assertThatThrownBy(held::fencingToken).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("built without them");
        }
    }

    private static Connection connectTo(String url, String user, String password) throws SQLException {
        return java.sql.DriverManager.getConnection(url, user, password);
    }

    private static HikariDataSource poolAs(String url, String role) {
        HikariConfig config = new HikariConfig();
        // the embedded server's URL names its user, which would win over the pool's
        config.setJdbcUrl(url.replace("user=" + DB.user(), "user=" + role));
        config.setUsername(role);
        config.setPassword("secret");
        config.setMaximumPoolSize(4);
        config.setMinimumIdle(0);
        return new HikariDataSource(config);
    }
}
