package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The README's example, run as written: its {@code assert}s state what the README promises, and the
 * README's copy is checked to be this one, so neither can drift from the API.
 */
class ReadmeExampleTest extends LockTestSupport {

    private static final String START = "// --- README example: keep in step with README.md, \"Using the core\" ---";
    private static final String END = "// --- end of README example ---";

    @Test
    void readmeExampleRunsAndKeepsItsPromises() throws Exception {
        assertThat(ReadmeExampleTest.class.desiredAssertionStatus())
                .as("the example states its promises with assert: run the tests with -ea (Surefire's default)")
                .isTrue();
        assertThat(readmeExample(dataSource)).isEqualTo("report sent");
    }

    @Test
    void readmeShowsExactlyTheExampleThatRuns() throws IOException {
        String source = Files.readString(Path.of("src/test/java/dev/pals/ReadmeExampleTest.java"));
        int start = source.indexOf(START);
        List<String> example = source.substring(start, source.indexOf(END, start)).strip().lines().toList();
        // the method's body, without the marker, declaration and closing brace, one indent level less
        String expected = example.subList(2, example.size() - 1).stream()
                .map(line -> line.length() > 8 ? line.substring(8) : line.strip())
                .collect(Collectors.joining("\n"));
        assertThat(Files.readString(Path.of("../README.md"))).contains("```java\n" + expected + "\n```");
    }

    // --- README example: keep in step with README.md, "Using the core" ---
    static String readmeExample(DataSource dataSource) throws Exception {
        try (LockRegistry registry = LockRegistry.builder(dataSource)
                .namespace("billing")                      // PALs' app name: keys match Python PALs
                .acquireTimeout(Duration.ofSeconds(10))    // default wait for acquire() and hold()
                .build()) {

            // Scoped: released on exit, also on exception; AcquireFailureException if not obtained
            try (HeldLock held = registry.lock("nightly-report").hold()) {
                // only one holder in the whole cluster runs this
            }

            // Manual: tryAcquire() never waits; tryAcquire(timeout) waits in the server
            AdvisoryLock account = registry.lock("account:42");
            if (account.tryAcquire(Duration.ofMillis(500))) {
                try {
                    // update the account
                } finally {
                    account.release();
                }
            }

            // Shared: many readers at once, excluding writers
            AdvisoryLock reader = registry.lock("catalog", LockOptions.shared());
            AdvisoryLock otherReader = registry.lock("catalog", LockOptions.shared());
            boolean bothRead = reader.tryAcquire() && otherReader.tryAcquire();
            boolean writerGotIn = registry.lock("catalog").tryAcquire();
            assert bothRead && !writerGotIn : "readers share; a writer waits for them";
            reader.release();
            otherReader.release();

            // Async: the caller's thread is free at once; cancel() cancels the wait in the server
            AdvisoryLock export = registry.lock("export");
            CompletableFuture<Boolean> pending = export.acquireAsync(Duration.ofSeconds(5));
            if (pending.get()) {
                try {
                    boolean again = registry.lock("export").tryAcquire();
                    assert !again : "handles exclude each other, even in one thread";
                } finally {
                    export.release();
                }
            }

            // Spring-style convenience
            return registry.executeLocked("send-report", Duration.ofSeconds(5), () -> "report sent");
        }
    }
    // --- end of README example ---
}
