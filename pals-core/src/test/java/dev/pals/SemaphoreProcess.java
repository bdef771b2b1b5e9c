package dev.pals;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A child JVM for {@link SemaphoreCrossProcessTest}, using the semaphore "work" of two permits.
 *
 * <p>Arguments: url user password namespace mode [threads rounds]. Mode {@code count}: each thread
 * takes a permit {@code rounds} times and, inside, counts itself in the row {@code guard} and
 * records the most it saw inside at once; prints {@link #DONE}. Mode {@code hold}: takes both
 * permits, prints {@link #HELD} and waits until killed.
 */
public final class SemaphoreProcess {

    static final String DONE = "DONE";
    static final String HELD = "HELD";
    static final String NAME = "work";
    static final int PERMITS = 2;

    private SemaphoreProcess() {
    }

    public static void main(String[] args) throws Exception {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(args[0]);
        config.setUsername(args[1]);
        config.setPassword(args[2]);
        config.setMaximumPoolSize(12);
        try (HikariDataSource pool = new HikariDataSource(config);
                LockRegistry registry = LockRegistry.builder(pool).namespace(args[3]).build()) {
            AdvisorySemaphore semaphore = registry.semaphore(NAME, PERMITS);
            if (args[4].equals("hold")) {
                semaphore.hold();
                semaphore.hold();
                System.out.println(HELD);
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
                return;
            }
            int threads = Integer.parseInt(args[5]);
            int rounds = Integer.parseInt(args[6]);
            ExecutorService executor = Executors.newFixedThreadPool(threads);
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                work.add(executor.submit(() -> {
                    try (Connection connection = pool.getConnection(); Statement statement = connection.createStatement()) {
                        for (int i = 0; i < rounds; i++) {
                            try (HeldPermit permit = semaphore.hold(Duration.ofSeconds(60))) {
                                statement.execute("UPDATE guard SET inside = inside + 1, "
                                        + "most = greatest(most, inside + 1), entries = entries + 1");
                                // the work inside: long enough for the others to pile up behind the permits
                                statement.execute("SELECT pg_sleep(0.01)");
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
        System.out.println(DONE);
    }
}
