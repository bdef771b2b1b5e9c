package dev.pals;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A child JVM for {@link CrossProcessExclusionTest}: threads increment one row by read-then-write
 * in separate statements inside a session lock, and count, through a guard row, how often a
 * critical section found another one already inside.
 *
 * <p>Arguments: url user password namespace threads increments.
 */
public final class CounterProcess {

    private CounterProcess() {
    }

    public static void main(String[] args) throws Exception {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(args[0]);
        config.setUsername(args[1]);
        config.setPassword(args[2]);
        config.setMaximumPoolSize(12);
        int threads = Integer.parseInt(args[4]);
        int increments = Integer.parseInt(args[5]);
        try (HikariDataSource pool = new HikariDataSource(config);
                LockRegistry registry = LockRegistry.builder(pool).namespace(args[3]).build()) {
            ExecutorService executor = Executors.newFixedThreadPool(threads);
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                work.add(executor.submit(() -> {
                    try (Connection connection = pool.getConnection(); Statement statement = connection.createStatement()) {
                        for (int i = 0; i < increments; i++) {
                            try (HeldLock held = registry.lock("counter").hold(Duration.ofSeconds(60))) {
                                if (single(statement, "UPDATE guard SET inside = inside + 1 RETURNING inside") > 1) {
                                    statement.execute("UPDATE guard SET collisions = collisions + 1");
                                }
                                long value = single(statement, "SELECT value FROM counter");
                                statement.execute("UPDATE counter SET value = " + (value + 1));
                                statement.execute("UPDATE guard SET inside = inside - 1");
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> done : work) {
                done.get();
            }
            executor.shutdown();
        }
        System.out.println("DONE");
    }

    private static long single(Statement statement, String sql) throws Exception {
        try (ResultSet rows = statement.executeQuery(sql)) {
            rows.next();
            return rows.getLong(1);
        }
    }
}
