package dev.pals.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class WakeUpFloorTest {

    @Test
    void everyCallOfManyThreadsReturnsAnswered() throws Exception {
        ExecutorService callers = Executors.newFixedThreadPool(16);
        try (WakeUpFloor floor = new WakeUpFloor(4)) {
            List<CompletableFuture<Void>> done = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                int caller = i;
                done.add(CompletableFuture.runAsync(() -> {
                    for (int n = 0; n < 2_000; n++) {
                        try {
                            floor.call(caller);
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                    }
                }, callers));
            }
            CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        } finally {
            callers.shutdownNow();
        }
    }

    @Test
    void aCallerInterruptedWhileNoAnswerComesThrowsInterruptedException() throws Exception {
        WakeUpFloor floor = new WakeUpFloor(1);
        // closed: its answerer has stopped, so a call waits until it is interrupted
        floor.close();
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread caller = new Thread(() -> {
            try {
                floor.call(0);
            } catch (InterruptedException e) {
                thrown.set(e);
            }
        });
        caller.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> caller.getState() == Thread.State.TIMED_WAITING);
        caller.interrupt();
        caller.join(TimeUnit.SECONDS.toMillis(10));

        assertThat(caller.isAlive()).isFalse();
        assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    }
}
