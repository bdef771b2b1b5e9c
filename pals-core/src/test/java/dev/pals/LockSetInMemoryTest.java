package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Lock sets of {@link LockRegistry#inMemory()}: the same order and the same all-or-nothing, without a database. */
class LockSetInMemoryTest {

    private final LockRegistry registry = LockRegistry.inMemory().namespace("billing").build();
    /** Balances of accounts A and B, read and written apart so that two overlapping transfers lose an update. */
    private final long[] balances = {1000, 1000};

    @AfterEach
    void close() {
        registry.close();
    }

    @Test
    void transfersInBothDirectionsFromEightThreadsNeverDeadlockAndLoseNoUpdate() throws Exception {
        ExecutorService executor = Executors.newFixedThreadPool(8);
        try {
            List<Future<Long>> work = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                work.add(executor.submit(() -> {
                    long aToB = 0;
                    for (int i = 0; i < 500; i++) {
                        boolean forward = (thread + i) % 2 == 0;
                        int from = forward ? 0 : 1;
                        int to = 1 - from;
                        try (HeldLockSet held = registry.locks(List.of("account:" + from, "account:" + to))
                                .hold(Duration.ofSeconds(10))) {
                            long fromBalance = balances[from];
                            long toBalance = balances[to];
                            Thread.yield();
                            balances[from] = fromBalance - 1;
                            balances[to] = toBalance + 1;
                        }
                        aToB += forward ? 1 : 0;
                    }
                    return aToB;
                }));
            }
            long aToB = 0;
            for (Future<Long> done : work) {
                aToB += done.get(60, TimeUnit.SECONDS);
            }
            long bToA = 8 * 500 - aToB;
            assertThat(balances).containsExactly(1000 - aToB + bToA, 1000 + aToB - bToA);
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void membersAreTakenInAscendingKeyOrderAsOnPostgresql() {
        AdvisoryLockSet set = registry.locks(List.of("account:B", "account:A", "account:B"));

        assertThat(set.keys()).containsExactlyInAnyOrder(LockKey.of("billing", "account:A"),
                LockKey.of("billing", "account:B")).isSortedAccordingTo(Comparator.comparingLong(LockKey::value));
    }

    @Test
    void contentionOnTheSecondMemberLeavesTheFirstFree() throws Exception {
        AdvisoryLockSet set = registry.locks(List.of("x", "y"));
        AdvisoryLock second = registry.lock(set.names().get(1));
        assertThat(second.tryAcquire()).isTrue();

        assertThat(set.tryAcquire()).isFalse();
        assertThat(set.tryAcquire(Duration.ofMillis(100))).isFalse();

        assertThat(registry.lock(set.names().get(0)).tryAcquire()).isTrue();
        assertThat(registry.heldLocks()).as("the other two handles only").isEqualTo(2);
    }

    @Test
    void interruptWhileWaitingForTheSecondMemberGivesBackTheFirst() throws Exception {
        AdvisoryLockSet set = registry.locks(List.of("x", "y"));
        // kept reachable to the end: a handle collected while held is released, and the set would not wait
        AdvisoryLock outside = registry.lock(set.names().get(1));
        assertThat(outside.tryAcquire()).isTrue();
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        Thread waiter = new Thread(() -> {
            try {
                outcome.complete(set.tryAcquire(LockRegistry.FOREVER) ? null : new AssertionError("not acquired"));
            } catch (Throwable e) {
                outcome.complete(e);
            }
        });
        waiter.start();
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> registry.waitingLocks() == 1);

        waiter.interrupt();

        assertThat(outcome.get(10, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
        assertThat(registry.heldLocks()).as("the outside holder of the second member only").isEqualTo(1);
        assertThat(registry.lock(set.names().get(0)).tryAcquire()).isTrue();
        assertThat(outside.release()).isTrue();
    }
}
