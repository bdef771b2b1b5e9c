package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pals.testing.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A holder in another JVM that lost its lock and kept going is refused by its stale fencing token. */
class CrossProcessFencingTest extends LockTestSupport {

    private static final Duration CHILD_OUTPUT_WAIT = Duration.ofSeconds(60);

    @TempDir
    Path tempDir;

    @Test
    void aProcessThatLostItsLockAndKeptWritingIsRefusedOnceANewHolderWroteWithItsToken() throws Exception {
        String table = TestDatabase.uniqueName("resource_").replace('-', '_');
        String childLocks = TestDatabase.uniqueName("fenced-child-");
        try (Connection resource = DB.connect(); Statement ddl = resource.createStatement()) {
            ddl.execute("CREATE TABLE " + table + " (id int PRIMARY KEY, value text, token bigint NOT NULL)");
            ddl.execute("INSERT INTO " + table + " VALUES (1, 'initial', 0)");
            ChildJvm child = ChildJvm.start(new ProcessBuilder(ChildJvm.command(FencedWriterProcess.class,
                    DB.url(), DB.user(), DB.password(), namespace, "resource", table, childLocks)),
                    tempDir.resolve("child.err"));
            try {
                long childToken = Long.parseLong(child.expectStartingWith("TOKEN ", CHILD_OUTPUT_WAIT).substring(6));
                child.expect("WROTE true", CHILD_OUTPUT_WAIT);

                // the child's lock session ends while the child goes on, as after a pause or a split
                DB.terminateSessions(childLocks);
                AdvisoryLock lock = registry(LockRegistry.builder(dataSource).namespace(namespace)
                        .fencingTokens(FencingTokens.CREATE)).lock("resource");
                assertThat(lock.tryAcquire(Duration.ofSeconds(10))).isTrue();
                long token = lock.fencingToken();
                assertThat(token).isGreaterThan(childToken);
                assertThat(FencedWriterProcess.write(resource, table, "parent", token)).isTrue();

                child.send(FencedWriterProcess.WRITE_COMMAND);
                child.expect("WROTE false", CHILD_OUTPUT_WAIT);
                child.expect("LOST", CHILD_OUTPUT_WAIT);
                assertThat(child.exitCode(CHILD_OUTPUT_WAIT)).isZero();
                assertThat(observe("SELECT token FROM " + table + " WHERE id = 1")).isEqualTo(token);
                lock.release();
            } finally {
                child.kill();
                ddl.execute("DROP TABLE " + table);
            }
        }
    }
}
