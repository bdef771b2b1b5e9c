package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Several locks at once, all or nothing, in one global order, against the real server. */
class LockSetTest extends LockTestSupport {

    private String table;
    private final List<ChildJvm> children = new ArrayList<>();

    @BeforeEach
    void createAccounts() throws Exception {
        table = "accounts_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        try (Connection connection = DB.connect()) {
            Transfers.createAccounts(connection, table);
        }
    }

    @AfterEach
    void dropAccounts() throws Exception {
        for (ChildJvm child : children) {
            child.kill();
        }
        try (Connection connection = DB.connect(); Statement statement = connection.createStatement()) {
            statement.execute("DROP TABLE " + table);
        }
    }

    @Test
    void transfersInBothDirectionsFromEightThreadsOfTwoRegistriesNeverDeadlockAndLoseNoUpdate() throws Exception {
        LockRegistry first = registry();
        LockRegistry second = registry();

        CompletableFuture<Long> one = CompletableFuture.supplyAsync(() -> transfers(first));
        CompletableFuture<Long> two = CompletableFuture.supplyAsync(() -> transfers(second));
        long aToB = one.get(120, TimeUnit.SECONDS) + two.get(120, TimeUnit.SECONDS);

        assertBalances(aToB, 2 * 4 * 40);
    }

    @Test
    void transfersInBothDirectionsFromTwoChildJvmsNeverDeadlockAndLoseNoUpdate() throws Exception {
        int threads = 4;
        int transfers = 30;
        for (int p = 0; p < 2; p++) {
            children.add(ChildJvm.start(new ProcessBuilder(ChildJvm.command(TransferProcess.class, DB.url(), DB.user(),
                    DB.password(), namespace, table, Integer.toString(threads), Integer.toString(transfers))),
                    Files.createTempFile("transfer-child-", ".err")));
        }
        long aToB = 0;
        for (ChildJvm child : children) {
            aToB += Long.parseLong(child.expectStartingWith("DONE ", Duration.ofSeconds(120)).substring(5));
            assertThat(child.exitCode(Duration.ofSeconds(30))).isZero();
        }

        assertBalances(aToB, 2 * threads * transfers);
    }

    @Test
    void membersAreTakenInAscendingKeyOrderWhateverTheOrderOfTheNames() {
        LockRegistry registry = registry();

        List<LockKey> forward = registry.locks(List.of("account:A", "account:B")).keys();
        List<LockKey> backward = registry.locks(List.of("account:B", "account:A")).keys();

        assertThat(forward).isEqualTo(backward).hasSize(2).isSortedAccordingTo(Comparator.comparingLong(LockKey::value));
    }

    @Test
    void duplicateNamesAreOneMemberAcquiredAndReleasedOnce() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLockSet set = registry.locks(List.of("a", "b", "a", "b"));

        assertThat(set.names()).hasSize(2).containsExactlyInAnyOrder("a", "b");
        assertThat(set.tryAcquire()).isTrue();
        assertThat(registry.heldLocks()).isEqualTo(2);
        assertThat(set.release()).isTrue();

        assertThat(registry.heldLocks()).isZero();
        for (LockKey key : set.keys()) {
            assertThat(grantedOnServer(key)).isZero();
        }
        assertThat(set.release()).isFalse();
    }

    @Test
    void contentionOnTheSecondMemberLeavesTheFirstFree() throws Exception {
        AdvisoryLockSet set = registry().locks(List.of("x", "y"));
        Connection outsider = outsider();
        lockFrom(outsider, set.keys().get(1));

        assertThat(set.tryAcquire()).isFalse();
        assertThat(set.tryAcquire(Duration.ofMillis(200))).isFalse();
        assertThatThrownBy(() -> set.hold(Duration.ZERO)).isInstanceOfSatisfying(AcquireFailureException.class,
                e -> {
                    assertThat(e.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED);
                    assertThat(e.lockName()).isEqualTo(set.names().get(1));
                });

        assertThat(set.isHeld()).isFalse();
        assertThat(grantedOnServer(set.keys().get(0))).isZero();
        assertThat(registry().lock(set.names().get(0)).tryAcquire()).as("another registry takes the first member")
                .isTrue();
    }

    @Test
    void oneTimeoutBoundsTheWholeSet() throws Exception {
        AdvisoryLockSet set = registry().locks(List.of("x", "y"));
        Connection firstHolder = outsider();
        Connection secondHolder = outsider();
        lockFrom(firstHolder, set.keys().get(0));
        lockFrom(secondHolder, set.keys().get(1));
        Duration firstFreeAfter = Duration.ofSeconds(2);
        CompletableFuture.runAsync(() -> unlockAll(firstHolder),
                CompletableFuture.delayedExecutor(firstFreeAfter.toMillis(), TimeUnit.MILLISECONDS));

        Duration timeout = Duration.ofMillis(2500);
        long started = System.nanoTime();
        assertThat(set.tryAcquire(timeout)).isFalse();
        Duration waited = Duration.ofNanos(System.nanoTime() - started);

        // each member waiting the whole timeout would take firstFreeAfter + timeout
        assertThat(waited).isGreaterThanOrEqualTo(timeout).isLessThan(timeout.plus(SLACK));
        assertThat(grantedOnServer(set.keys().get(0))).as("the first member, obtained, was given back").isZero();
        assertThat(waitingOnServer(set.keys().get(1))).isZero();
    }

    @Test
    void interruptWhileWaitingForTheSecondMemberCancelsTheWaitAndGivesBackTheFirst() throws Exception {
        AdvisoryLockSet set = registry().locks(List.of("x", "y"));
        lockFrom(outsider(), set.keys().get(1));
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        Thread waiter = new Thread(() -> {
            try {
                outcome.complete(set.tryAcquire(LockRegistry.FOREVER) ? null : new AssertionError("not acquired"));
            } catch (Throwable e) {
                outcome.complete(e);
            }
        });
        waiter.start();
        awaitServerWaiter(set.keys().get(1));
        assertThat(grantedOnServer(set.keys().get(0))).as("the first member is held during the wait").isEqualTo(1);

        waiter.interrupt();

        assertThat(outcome.get(30, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
        assertThat(set.isHeld()).isFalse();
        assertThat(grantedOnServer(set.keys().get(0))).isZero();
        assertThat(waitingOnServer(set.keys().get(1))).isZero();
    }

    @Test
    void aMemberLostWhileTheSetWaitsForALaterOneFailsTheAcquisitionHoldingNothing() throws Exception {
        AtomicInteger losses = new AtomicInteger();
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace)
                .lossListener((lock, cause) -> losses.incrementAndGet()));
        AdvisoryLockSet set = registry.locks(List.of("x", "y"));
        Connection outsider = outsider();
        lockFrom(outsider, set.keys().get(1));
        CompletableFuture<Boolean> acquiring = CompletableFuture.supplyAsync(() -> {
            try {
                return set.tryAcquire(Duration.ofSeconds(30));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        awaitServerWaiter(set.keys().get(1));

        terminateHolderOf(set.keys().get(0));
        await().atMost(Duration.ofSeconds(10)).until(() -> losses.get() > 0);
        unlockAll(outsider);

        assertThatThrownBy(() -> acquiring.get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(LockLostException.class);
        assertThat(set.isHeld()).isFalse();
        assertThat(registry.heldLocks()).isZero();
        assertThat(grantedOnServer(set.keys().get(1))).isZero();
    }

    @Test
    void aMemberLostWhileHeldLosesTheSetAndReleaseGivesBackTheRestAndThrows() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLockSet set = registry.locks(List.of("x", "y"));
        // the second member, waited for, is granted on a connection of its own: a loss can then take one member only
        Connection outsider = outsider();
        lockFrom(outsider, set.keys().get(1));
        CompletableFuture<Boolean> acquiring = CompletableFuture.supplyAsync(() -> {
            try {
                return set.tryAcquire(Duration.ofSeconds(30));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        awaitServerWaiter(set.keys().get(1));
        unlockAll(outsider);
        assertThat(acquiring.get(30, TimeUnit.SECONDS)).isTrue();

        terminateHolderOf(set.keys().get(0));
        await().atMost(Duration.ofSeconds(10)).until(() -> !set.isHeld());

        assertThat(grantedOnServer(set.keys().get(1))).as("the other member is held until the release").isEqualTo(1);
        assertThatThrownBy(set::tryAcquire).as("refused until the loss is reported")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("lost a member");
        assertThatThrownBy(set::release).isInstanceOf(LockLostException.class);
        assertThat(registry.heldLocks()).isZero();
        assertThat(grantedOnServer(set.keys().get(1))).isZero();
        assertThat(set.tryAcquire()).as("free to acquire again").isTrue();
        assertThat(set.release()).isTrue();
    }

    @Test
    void reacquiringAHeldSetIsCountedAndNeedsAsManyReleases() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLockSet set = registry.locks(List.of("x", "y"));

        assertThat(set.tryAcquire()).isTrue();
        assertThat(set.tryAcquire(Duration.ofSeconds(1))).isTrue();
        assertThat(set.release()).isTrue();
        assertThat(set.isHeld()).isTrue();
        assertThat(registry.locks(List.of("y")).tryAcquire()).isFalse();
        assertThat(set.release()).isTrue();

        assertThat(set.isHeld()).isFalse();
        assertThat(registry.heldLocks()).isZero();
    }

    @Test
    void heldLockSetReleasesEveryMemberOnClose() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLockSet set = registry.locks(List.of("x", "y"));

        try (HeldLockSet held = set.hold(Duration.ofSeconds(1))) {
            assertThat(held.isHeld()).isTrue();
            assertThat(registry().locks(List.of("y", "z")).tryAcquire()).isFalse();
        }

        assertThat(set.isHeld()).isFalse();
        for (LockKey key : set.keys()) {
            assertThat(grantedOnServer(key)).isZero();
        }
    }

    private long transfers(LockRegistry registry) {
        try {
            return Transfers.run(registry, dataSource, table, 4, 40, Duration.ofSeconds(10));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The sum is kept and each balance moved by exactly the transfers made. */
    private void assertBalances(long aToB, long total) throws Exception {
        long bToA = total - aToB;
        try (Connection connection = DB.connect()) {
            assertThat(Transfers.balance(connection, table, "A")).isEqualTo(Transfers.OPENING - aToB + bToA);
            assertThat(Transfers.balance(connection, table, "B")).isEqualTo(Transfers.OPENING + aToB - bToA);
        }
        assertThat(aToB).as("both directions ran").isPositive().isLessThan(total);
    }

    /** Ends the session that holds {@code key}, as an administrator or a crash would. */
    private static void terminateHolderOf(LockKey key) throws Exception {
        try (Connection connection = DB.connect(); PreparedStatement statement = connection.prepareStatement(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        + "AND classid = ? AND objid = ? AND objsubid = ?")) {
            statement.setLong(1, key.classId());
            statement.setLong(2, key.objId());
            statement.setInt(3, key.objSubId());
            try (ResultSet rows = statement.executeQuery()) {
                assertThat(rows.next()).as("a holder of " + key).isTrue();
            }
        }
    }
}
