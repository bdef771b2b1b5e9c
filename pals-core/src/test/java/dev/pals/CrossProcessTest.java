package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Locks exclude across JVMs: the other side is a real second process, {@link LockHolderProcess}. */
class CrossProcessTest extends LockTestSupport {

    // a cold JVM on a busy machine can take a while to start and connect
    private static final Duration CHILD_OUTPUT_WAIT = Duration.ofSeconds(60);

    @TempDir
    Path tempDir;

    private final List<ChildJvm> children = new ArrayList<>();
    private final ExecutorService waiters = Executors.newCachedThreadPool();

    @AfterEach
    void stopChildren() throws InterruptedException {
        waiters.shutdownNow();
        for (ChildJvm child : children) {
            child.kill();
        }
    }

    @Test
    void tryAcquireFailsWhileAnotherProcessHoldsTheLock() throws Exception {
        ChildJvm holder = startChild("x", "wait");
        holder.expect(LockHolderProcess.HELD, CHILD_OUTPUT_WAIT);
        AdvisoryLock lock = registry().lock("x");

        assertThat(lock.tryAcquire()).isFalse();
        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isEqualTo(1);
    }

    @Test
    void anotherProcessCannotTakeTheLockThisProcessHolds() throws Exception {
        AdvisoryLock lock = registry().lock("x");
        assertThat(lock.tryAcquire()).isTrue();

        ChildJvm contender = startChild("x", "try");

        contender.expect(LockHolderProcess.CONTENDED, CHILD_OUTPUT_WAIT);
        assertThat(contender.exitCode(CHILD_OUTPUT_WAIT)).isEqualTo(3);
        assertThat(lock.isHeld()).isTrue();
        assertThat(lock.release()).isTrue();
    }

    @Test
    void timedWaitSucceedsOnceTheOtherProcessReleases() throws Exception {
        ChildJvm holder = startChild("x", "wait");
        holder.expect(LockHolderProcess.HELD, CHILD_OUTPUT_WAIT);
        AdvisoryLock lock = registry().lock("x");

        Future<Boolean> waiting = waiters.submit(() -> lock.tryAcquire(Duration.ofSeconds(30)));
        await().atMost(Duration.ofSeconds(30)).until(() -> waitingOnServer(lock.key()) == 1);
        assertThat(waiting).as("the wait ended while the other process still held the lock").isNotDone();

        holder.send(LockHolderProcess.RELEASE_COMMAND);

        assertThat(waiting.get(60, TimeUnit.SECONDS)).isTrue();
        holder.expect(LockHolderProcess.RELEASED, CHILD_OUTPUT_WAIT);
        assertThat(holder.exitCode(CHILD_OUTPUT_WAIT)).isZero();
        assertThat(lock.isHeld()).isTrue();
        assertThat(lock.release()).isTrue();
    }

    @Test
    void killingTheHoldingProcessFreesItsLock() throws Exception {
        ChildJvm holder = startChild("x", "wait");
        holder.expect(LockHolderProcess.HELD, CHILD_OUTPUT_WAIT);
        AdvisoryLock lock = registry().lock("x");
        assertThat(lock.tryAcquire()).as("the other process holds the lock before it is killed").isFalse();

        holder.process.destroyForcibly();

        assertThat(lock.tryAcquire(Duration.ofSeconds(30))).isTrue();
        assertThat(grantedOnServer(lock.key())).isEqualTo(1);
        assertThat(lock.release()).isTrue();
    }

    private ChildJvm startChild(String name, String mode) throws IOException {
        ChildJvm child = ChildJvm.start(new ProcessBuilder(ChildJvm.command(LockHolderProcess.class,
                DB.url(), DB.user(), DB.password(), namespace, name, mode)),
                tempDir.resolve("child-" + children.size() + ".err"));
        children.add(child);
        return child;
    }
}
