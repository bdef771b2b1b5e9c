package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link AdvisorySemaphore} across JVMs, where only PostgreSQL can count: the others are {@link SemaphoreProcess}. */
class SemaphoreCrossProcessTest extends LockTestSupport {

    // a cold JVM on a busy machine can take a while to start and connect
    private static final Duration CHILD_OUTPUT_WAIT = Duration.ofSeconds(60);
    private static final int ROUNDS = 10;

    @TempDir
    Path tempDir;

    private final List<ChildJvm> children = new ArrayList<>();

    @AfterEach
    void stopChildren() throws InterruptedException {
        for (ChildJvm child : children) {
            child.kill();
        }
    }

    @Test
    void threeProcessesOfFourThreadsNeverHaveMoreThanTwoInsideAndUseBothPermits() throws Exception {
        String database = DB.createDatabase();
        try (Connection connection = DriverManager.getConnection(database, DB.user(), DB.password());
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE guard (inside int NOT NULL, most int NOT NULL, entries int NOT NULL)");
            statement.execute("INSERT INTO guard VALUES (0, 0, 0)");

            for (int p = 0; p < 3; p++) {
                startChild(database, "count", "4", Integer.toString(ROUNDS));
            }
            for (ChildJvm child : children) {
                child.expect(SemaphoreProcess.DONE, Duration.ofSeconds(120));
                assertThat(child.exitCode(CHILD_OUTPUT_WAIT)).isZero();
            }

            assertThat(single(statement, "SELECT entries FROM guard")).isEqualTo(3 * 4 * ROUNDS);
            assertThat(single(statement, "SELECT most FROM guard")).as("most holders inside at once").isEqualTo(2);
            assertThat(single(statement, "SELECT inside FROM guard")).isZero();
        }
    }

    @Test
    void killingAProcessThatHoldsBothPermitsFreesThemForAWaiter() throws Exception {
        ChildJvm holder = startChild(DB.url(), "hold");
        holder.expect(SemaphoreProcess.HELD, CHILD_OUTPUT_WAIT);
        AdvisorySemaphore semaphore = registry().semaphore(SemaphoreProcess.NAME, SemaphoreProcess.PERMITS);
        assertThat(semaphore.tryAcquire()).as("the other process holds both permits before it is killed").isFalse();

        holder.process.destroyForcibly();

        assertThat(semaphore.tryAcquire(Duration.ofSeconds(30))).isTrue();
        assertThat(semaphore.tryAcquire(Duration.ofSeconds(30))).isTrue();
        assertThat(semaphore.heldPermits()).isEqualTo(2);
        assertThat(semaphore.release()).isTrue();
        assertThat(semaphore.release()).isTrue();
    }

    private ChildJvm startChild(String url, String... modeAndArgs) throws IOException {
        List<String> args = new ArrayList<>(List.of(url, DB.user(), DB.password(), namespace));
        args.addAll(List.of(modeAndArgs));
        ChildJvm child = ChildJvm.start(new ProcessBuilder(ChildJvm.command(SemaphoreProcess.class,
                args.toArray(String[]::new))), tempDir.resolve("child-" + children.size() + ".err"));
        children.add(child);
        return child;
    }
}
