package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
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

    private final List<Child> children = new ArrayList<>();
    private final ExecutorService waiters = Executors.newCachedThreadPool();

    @AfterEach
    void stopChildren() throws InterruptedException {
        waiters.shutdownNow();
        for (Child child : children) {
            child.kill();
        }
    }

    @Test
    void tryAcquireFailsWhileAnotherProcessHoldsTheLock() throws Exception {
        Child holder = startChild("x", "wait");
        holder.expect(LockHolderProcess.HELD);
        AdvisoryLock lock = registry().lock("x");

        assertThat(lock.tryAcquire()).isFalse();
        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isEqualTo(1);
    }

    @Test
    void anotherProcessCannotTakeTheLockThisProcessHolds() throws Exception {
        AdvisoryLock lock = registry().lock("x");
        assertThat(lock.tryAcquire()).isTrue();

        Child contender = startChild("x", "try");

        contender.expect(LockHolderProcess.CONTENDED);
        assertThat(contender.exitCode()).isEqualTo(3);
        assertThat(lock.isHeld()).isTrue();
        assertThat(lock.release()).isTrue();
    }

    @Test
    void timedWaitSucceedsOnceTheOtherProcessReleases() throws Exception {
        Child holder = startChild("x", "wait");
        holder.expect(LockHolderProcess.HELD);
        AdvisoryLock lock = registry().lock("x");

        Future<Boolean> waiting = waiters.submit(() -> lock.tryAcquire(Duration.ofSeconds(30)));
        await().atMost(Duration.ofSeconds(30)).until(() -> waitingOnServer(lock.key()) == 1);
        assertThat(waiting).as("the wait ended while the other process still held the lock").isNotDone();

        holder.send(LockHolderProcess.RELEASE_COMMAND);

        assertThat(waiting.get(60, TimeUnit.SECONDS)).isTrue();
        holder.expect(LockHolderProcess.RELEASED);
        assertThat(holder.exitCode()).isZero();
        assertThat(lock.isHeld()).isTrue();
        assertThat(lock.release()).isTrue();
    }

    @Test
    void killingTheHoldingProcessFreesItsLock() throws Exception {
        Child holder = startChild("x", "wait");
        holder.expect(LockHolderProcess.HELD);
        AdvisoryLock lock = registry().lock("x");
        assertThat(lock.tryAcquire()).as("the other process holds the lock before it is killed").isFalse();

        holder.process.destroyForcibly();

        assertThat(lock.tryAcquire(Duration.ofSeconds(30))).isTrue();
        assertThat(grantedOnServer(lock.key())).isEqualTo(1);
        assertThat(lock.release()).isTrue();
    }

    private Child startChild(String name, String mode) throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Path stderr = tempDir.resolve("child-" + children.size() + ".err");
        Process process = new ProcessBuilder(java,
                // the child lives for seconds: start fast rather than run fast
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), LockHolderProcess.class.getName(),
                DB.url(), DB.user(), DB.password(), namespace, name, mode)
                .redirectError(stderr.toFile())
                .start();
        Child child = new Child(process, stderr);
        children.add(child);
        return child;
    }

    /** A child JVM whose stdout lines are collected as they come, so waits for them are bounded. */
    private static final class Child {

        final Process process;
        private final Path stderr;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        Child(Process process, Path stderr) {
            this.process = process;
            this.stderr = stderr;
            Thread reader = new Thread(this::readStdout, "child-" + process.pid() + "-stdout");
            reader.setDaemon(true);
            reader.start();
        }

        private void readStdout() {
            try (BufferedReader out = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    lines.add(line.trim());
                }
            } catch (IOException ignored) {
                // the child was killed; what it printed before is in the queue
            }
        }

        void expect(String expected) throws InterruptedException, IOException {
            long deadline = System.nanoTime() + CHILD_OUTPUT_WAIT.toNanos();
            List<String> seen = new ArrayList<>();
            while (true) {
                String line = lines.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                if (line == null) {
                    fail("child did not print '%s' within %s; it printed %s, alive=%s, stderr:%n%s", expected,
                            CHILD_OUTPUT_WAIT, seen, process.isAlive(), Files.readString(stderr));
                }
                if (line.equals(expected)) {
                    return;
                }
                seen.add(line);
            }
        }

        void send(String command) throws IOException {
            Writer in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            in.write(command + "\n");
            in.flush();
        }

        int exitCode() throws InterruptedException, IOException {
            if (!process.waitFor(CHILD_OUTPUT_WAIT.toSeconds(), TimeUnit.SECONDS)) {
                fail("child did not exit within %s; stderr:%n%s", CHILD_OUTPUT_WAIT, Files.readString(stderr));
            }
            return process.exitValue();
        }

        void kill() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
