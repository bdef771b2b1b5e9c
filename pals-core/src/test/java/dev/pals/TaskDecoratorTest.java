package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link LockRegistry.Builder#taskDecorator}: the caller's context goes with the work the registry
 * does for it on its own threads, and a failing decorator neither leaves a lock held nor loses one.
 */
class TaskDecoratorTest extends LockTestSupport {

    /** A caller's context, as a trace or a logging context keeps it. */
    private static final ThreadLocal<@Nullable String> CONTEXT = new ThreadLocal<>();

    /** Carries {@link #CONTEXT} over, as context propagation does: captured at the call, restored around the task. */
    private static final UnaryOperator<Runnable> CARRY_CONTEXT = task -> {
        String captured = CONTEXT.get();
        return () -> {
            CONTEXT.set(captured);
            try {
                task.run();
            } finally {
                CONTEXT.remove();
            }
        };
    };

    /** The context and thread each acquisition began in, and each section ended in. */
    private final List<String> seen = new CopyOnWriteArrayList<>();

    private final LockObserver recorder = new LockObserver() {
        @Override
        public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
            seen.add("acquire in " + CONTEXT.get() + (Thread.currentThread() == caller ? " on the caller" : ""));
            return Acquisition.NONE;
        }

        @Override
        public Section sectionStarted(LockInfo lock) {
            return lost -> seen.add("release in " + CONTEXT.get()
                    + (Thread.currentThread() == caller ? " on the caller" : ""));
        }
    };

    private final Thread caller = Thread.currentThread();

    @AfterEach
    void forgetContext() {
        CONTEXT.remove();
    }

    private LockRegistry decorated(UnaryOperator<Runnable> decorator) {
        return registry(LockRegistry.builder(dataSource).namespace(namespace).observer(recorder)
                .taskDecorator(decorator));
    }

    @Test
    void anAsyncAcquisitionRunsOnARegistryThreadInTheContextOfTheThreadThatAskedForIt() throws Exception {
        AdvisoryLock lock = decorated(CARRY_CONTEXT).lock("report");
        CONTEXT.set("request-1");

        assertThat(lock.acquireAsync(Duration.ofSeconds(30)).get(30, TimeUnit.SECONDS)).isTrue();

        assertThat(seen).containsExactly("acquire in request-1");
        lock.release();
    }

    @Test
    void theFuturesDependentStagesRunInTheCallersContextOnTheRegistryThread() throws Exception {
        AdvisoryLock lock = decorated(CARRY_CONTEXT).lock("report");
        Connection holder = outsider();
        lockFrom(holder, lock.key());
        CONTEXT.set("request-2");

        CompletableFuture<Boolean> pending = lock.acquireAsync(Duration.ofSeconds(30));
        CompletableFuture<@Nullable String> stage = pending.thenApply(acquired -> CONTEXT.get());
        CONTEXT.remove();
        awaitServerWaiter(lock.key());
        unlockAll(holder);

        assertThat(stage.get(30, TimeUnit.SECONDS)).isEqualTo("request-2");
        lock.release();
    }

    @Test
    void aDelayedReleaseRunsInTheContextOfTheThreadThatScheduledIt() throws Exception {
        AdvisoryLock lock = decorated(CARRY_CONTEXT).lock("nightly");
        CONTEXT.set("job-7");
        assertThat(lock.tryAcquire()).isTrue();

        assertThat(lock.releaseAfter(Duration.ofMillis(50)).get(30, TimeUnit.SECONDS)).isTrue();

        assertThat(seen).containsExactly("acquire in job-7 on the caller", "release in job-7");
        assertThat(grantedOnServer(lock.key())).isZero();
    }

    @Test
    void aDecoratorThatThrowsFailsTheCallAndSchedulesNothing() throws Exception {
        AdvisoryLock lock = decorated(task -> {
            throw new IllegalStateException("no context today");
        }).lock("report");

        assertThatThrownBy(lock::acquireAsync).hasMessage("no context today");
        assertThat(lock.isHeld()).isFalse();
        assertThat(lock.tryAcquire()).isTrue();
        assertThatThrownBy(() -> lock.releaseAfter(Duration.ZERO)).hasMessage("no context today");
        assertThat(lock.isHeld()).as("still held, for the caller to release").isTrue();
        assertThat(lock.release()).isTrue();
    }

    @Test
    void aWrappingThatFailsFailsTheAcquisitionHoldingNothing() throws Exception {
        AdvisoryLock lock = decorated(task -> () -> {
            throw new IllegalStateException("cannot restore the context");
        }).lock("report");

        assertThatThrownBy(() -> lock.acquireAsync(Duration.ofSeconds(30)).get(30, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).hasRootCauseMessage("cannot restore the context");

        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
    }

    @Test
    void aWrappingThatDoesNotRunItsTaskFailsTheAcquisitionHoldingNothing() throws Exception {
        AdvisoryLock lock = decorated(task -> () -> { }).lock("report");

        assertThatThrownBy(() -> lock.acquireAsync(LockRegistry.FOREVER).get(30, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).cause().isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("did not run the acquisition of lock 'report'");
        assertThat(lock.isHeld()).isFalse();
    }

    @Test
    void aWrappingThatFailsStillReleasesAfterTheDelay() throws Exception {
        AdvisoryLock lock = decorated(task -> () -> {
            throw new IllegalStateException("cannot restore the context");
        }).lock("nightly");
        assertThat(lock.tryAcquire()).isTrue();

        assertThat(lock.releaseAfter(Duration.ofMillis(50)).get(30, TimeUnit.SECONDS)).isTrue();

        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
    }
}
