package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** The README's example, run as written, so the README cannot drift from the API. */
class ReadmeExampleTest extends LockTestSupport {

    @Test
    void readmeExampleRuns() throws Exception {
        assertThat(readmeExample(dataSource)).isEqualTo("report sent");
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
            reader.tryAcquire();
            reader.release();

            // Async: the caller's thread is free at once; cancel() cancels the wait in the server
            AdvisoryLock export = registry.lock("export");
            CompletableFuture<Boolean> pending = export.acquireAsync(Duration.ofSeconds(5));
            if (pending.get()) {
                try {
                    registry.lock("export").tryAcquire(); // false: handles exclude each other
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
