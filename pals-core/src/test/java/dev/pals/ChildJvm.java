package dev.pals;

import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Another service in a JVM of its own, started from this test JVM's classpath: its stdout lines
 * are collected as they come, so that every wait for one is bounded, and its stderr goes to a
 * file that a failure shows.
 */
final class ChildJvm {

    final Process process;
    private final Path stderr;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    private ChildJvm(Process process, Path stderr) {
        this.process = process;
        this.stderr = stderr;
        Thread reader = new Thread(this::readStdout, "child-" + process.pid() + "-stdout");
        reader.setDaemon(true);
        reader.start();
    }

    /** The command line that runs {@code main} with {@code args} on this JVM's java and classpath. */
    static List<String> command(Class<?> main, String... args) {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                // the child lives for seconds: start fast rather than run fast
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), main.getName()));
        command.addAll(List.of(args));
        return command;
    }

    /** Starts {@code builder}'s command, with its stderr written to {@code stderr}. */
    static ChildJvm start(ProcessBuilder builder, Path stderr) throws IOException {
        return new ChildJvm(builder.redirectError(stderr.toFile()).start(), stderr);
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

    /** Waits at most {@code wait} for the line {@code expected}. */
    void expect(String expected, Duration wait) throws InterruptedException, IOException {
        expect(expected::equals, "'" + expected + "'", wait);
    }

    /** Waits at most {@code wait} for a line starting with {@code prefix}, and returns it. */
    String expectStartingWith(String prefix, Duration wait) throws InterruptedException, IOException {
        return expect(line -> line.startsWith(prefix), "a line starting with '" + prefix + "'", wait);
    }

    private String expect(Predicate<String> wanted, String what, Duration wait)
            throws InterruptedException, IOException {
        long deadline = System.nanoTime() + wait.toNanos();
        List<String> seen = new ArrayList<>();
        while (true) {
            String line = lines.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
            if (line == null) {
                fail("child did not print %s within %s; it printed %s, alive=%s, stderr:%n%s", what, wait, seen,
                        process.isAlive(), Files.readString(stderr));
            }
            if (wanted.test(line)) {
                return line;
            }
            seen.add(line);
        }
    }

    void send(String command) throws IOException {
        Writer in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        in.write(command + "\n");
        in.flush();
    }

    int exitCode(Duration wait) throws InterruptedException, IOException {
        if (!process.waitFor(wait.toSeconds(), TimeUnit.SECONDS)) {
            fail("child did not exit within %s; stderr:%n%s", wait, Files.readString(stderr));
        }
        return process.exitValue();
    }

    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }
}
