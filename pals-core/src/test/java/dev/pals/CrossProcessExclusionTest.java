package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Mutual exclusion across processes, where only PostgreSQL can decide it. */
class CrossProcessExclusionTest extends LockTestSupport {

    private static final int PROCESSES = 4;
    private static final int THREADS = 8;
    private static final int INCREMENTS = 15;

    private final List<Process> children = new ArrayList<>();

    @AfterEach
    void killChildren() {
        children.forEach(Process::destroyForcibly);
    }

    @Test
    void fourProcessesOfEightThreadsIncrementingOneRowUnderASessionLockLoseNothingAndNeverOverlap()
            throws Exception {
        String database = DB.createDatabase();
        try (Connection connection = java.sql.DriverManager.getConnection(database, DB.user(), DB.password());
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE counter (value bigint NOT NULL)");
            statement.execute("INSERT INTO counter VALUES (0)");
            statement.execute("CREATE TABLE guard (inside int NOT NULL, collisions int NOT NULL)");
            statement.execute("INSERT INTO guard VALUES (0, 0)");

            for (int p = 0; p < PROCESSES; p++) {
                children.add(new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-cp",
                        System.getProperty("java.class.path"), CounterProcess.class.getName(), database, DB.user(),
                        DB.password(), namespace, Integer.toString(THREADS), Integer.toString(INCREMENTS))
                        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
            }
            for (Process child : children) {
                assertThat(child.waitFor(120, TimeUnit.SECONDS)).as("child finished in time").isTrue();
                assertThat(child.exitValue()).isZero();
            }

            assertThat(single(statement, "SELECT value FROM counter")).isEqualTo(PROCESSES * THREADS * INCREMENTS);
            assertThat(single(statement, "SELECT collisions FROM guard")).isZero();
        }
    }

}
