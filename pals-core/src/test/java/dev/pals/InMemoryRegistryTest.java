package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link LockRegistry#inMemory()}: the handles' semantics, without a database. */
class InMemoryRegistryTest {

    private final LockRegistry registry = LockRegistry.inMemory().namespace("billing").build();

    @AfterEach
    void close() {
        registry.close();
    }

    @Test
    void twoHandlesOnOneNameExcludeEachOtherAndReEntryIsCounted() {
        AdvisoryLock first = registry.lock("job");
        AdvisoryLock second = registry.lock("job");

        assertThat(first.tryAcquire()).isTrue();
        assertThat(first.tryAcquire()).isTrue();
        assertThat(second.tryAcquire()).isFalse();
        first.release();
        assertThat(second.tryAcquire()).as("still held once").isFalse();
        first.release();
        assertThat(second.tryAcquire()).isTrue();
        assertThat(first.release()).as("not held").isFalse();
        second.release();
    }

    @Test
    void sharedHoldersShareAndExcludeAnExclusiveOne() {
        AdvisoryLock reader = registry.lock("catalog", LockOptions.shared());
        AdvisoryLock another = registry.lock("catalog", LockOptions.shared());
        AdvisoryLock writer = registry.lock("catalog");

        assertThat(reader.tryAcquire()).isTrue();
        assertThat(another.tryAcquire()).isTrue();
        assertThat(writer.tryAcquire()).isFalse();
        reader.release();
        another.release();
        assertThat(writer.tryAcquire()).isTrue();
        assertThat(reader.tryAcquire()).isFalse();
        writer.release();
    }

    @Test
    void aWaitRunsOutAfterItsTimeoutAndIsGrantedWhenTheHolderLetsGo() throws Exception {
        AdvisoryLock holder = registry.lock("job");
        AdvisoryLock waiter = registry.lock("job");
        assertThat(holder.tryAcquire()).isTrue();

        long start = System.nanoTime();
        assertThat(waiter.tryAcquire(Duration.ofMillis(200))).isFalse();
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(Duration.ofMillis(200).toNanos());

        CompletableFuture<Boolean> waiting = waiter.acquireAsync(Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(30)).until(() -> registry.waitingLocks() == 1);
        holder.release();
        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        waiter.release();
    }

    @Test
    void anInterruptedWaitHoldsNothing() {
        AdvisoryLock holder = registry.lock("job");
        assertThat(holder.tryAcquire()).isTrue();
        AdvisoryLock waiter = registry.lock("job");

        Thread.currentThread().interrupt();
        assertThatThrownBy(() -> waiter.tryAcquire(Duration.ofSeconds(30))).isInstanceOf(InterruptedException.class);

        assertThat(waiter.isHeld()).isFalse();
        holder.release();
    }

    @Test
    void holdsShowInActivityAndObserversAreTold() {
        LockObserverTest.Recorder recorder = new LockObserverTest.Recorder();
        try (LockRegistry observed = LockRegistry.inMemory().observer(recorder).build();
                HeldLock held = observed.lock("report", LockOptions.exclusive().withGroup("reports")).hold()) {
            assertThat(observed.activity()).singleElement().satisfies(activity -> {
                assertThat(activity.lock().name()).isEqualTo("report");
                assertThat(activity.state()).isEqualTo(LockActivity.State.HELD);
                assertThat(activity.backendPid()).isNull();
            });
            assertThat(observed.heldLocks()).isEqualTo(1);
            assertThat(observed.openConnections()).isZero();
        }
        assertThat(recorder.events).containsExactly("start report reports SESSION waits", "held report",
                "end report ACQUIRED", "released report");
    }

    @Test
    void closingReleasesEverythingAndEndsWaits() throws Exception {
        AdvisoryLock holder = registry.lock("job");
        assertThat(holder.tryAcquire()).isTrue();
        CompletableFuture<Boolean> waiting = registry.lock("job").acquireAsync(Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(30)).until(() -> registry.waitingLocks() == 1);

        registry.close();

        assertThat(holder.isHeld()).isFalse();
        assertThatThrownBy(() -> waiting.get(30, TimeUnit.SECONDS)).cause().isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void transactionLocksNeedADatabase() {
        assertThatThrownBy(() -> registry.transactionLock("account:1", LockMode.EXCLUSIVE))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("in memory");
    }
}
