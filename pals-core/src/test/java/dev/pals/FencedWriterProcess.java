package dev.pals;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Another service in its own JVM, for {@link CrossProcessFencingTest}: takes a lock with a fencing
 * token and writes a resource with it, then, told to, writes again with the same token however
 * its lock fared meanwhile, as a holder that paused and kept going would.
 *
 * <p>Arguments: {@code url user password namespace name table lockApplicationName}. Prints
 * {@code TOKEN <n>} and {@code WROTE <applied>}, then on the stdin line {@code write} writes again
 * and prints {@code WROTE <applied>}, then releases and prints {@code RELEASED} or {@code LOST}.
 */
public final class FencedWriterProcess {

    static final String WRITE_COMMAND = "write";

    private FencedWriterProcess() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 7) {
            System.err.println("usage: FencedWriterProcess url user password namespace name table lockApplicationName");
            System.exit(2);
        }
        PGSimpleDataSource locks = dataSource(args);
        locks.setApplicationName(args[6]);
        PGSimpleDataSource resource = dataSource(args);
        resource.setApplicationName(args[6] + "-resource");
        try (LockRegistry registry = LockRegistry.builder(locks).namespace(args[3])
                .fencingTokens(FencingTokens.CREATE).build(); Connection writes = resource.getConnection()) {
            AdvisoryLock lock = registry.lock(args[4]);
            if (!lock.tryAcquire(Duration.ofSeconds(60))) {
                System.exit(3);
            }
            long token = lock.fencingToken();
            say("TOKEN " + token);
            say("WROTE " + write(writes, args[5], "child", token));
            awaitWriteCommand();
            say("WROTE " + write(writes, args[5], "child again", token));
            try {
                lock.release();
                say("RELEASED");
            } catch (LockLostException lost) {
                say("LOST");
            }
        }
    }

    /** The README's conditional write. */
    static boolean write(Connection connection, String table, String value, long token) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE " + table + " SET value = ?, token = ? WHERE id = 1 AND token <= ?")) {
            update.setString(1, value);
            update.setLong(2, token);
            update.setLong(3, token);
            return update.executeUpdate() == 1;
        }
    }

    private static PGSimpleDataSource dataSource(String[] args) {
        PGSimpleDataSource dataSource = new PGSimpleDataSource();
        dataSource.setUrl(args[0]);
        dataSource.setUser(args[1]);
        dataSource.setPassword(args[2]);
        return dataSource;
    }

    private static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static void awaitWriteCommand() throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (WRITE_COMMAND.equals(line.trim())) {
                return;
            }
        }
    }
}
