package dev.pals.benchmarks;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Counts, from the server's side, the connections each contender has open: every contender tags
 * its connections with an application name of its own, and a thread reads
 * {@code pg_stat_activity} every 20 ms and keeps the most seen at once per name. It counts what a
 * DBA would see, whatever the library's own pool reports.
 */
final class ConnectionSampler implements AutoCloseable {

    private static final String PREFIX = "bench-";

    private final Map<String, Integer> peaks = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean running = true;
    private volatile @Nullable String failure;

    ConnectionSampler(BenchmarkDatabase database) {
        this.thread = new Thread(() -> sample(database), "connection-sampler");
        thread.setDaemon(true);
        thread.start();
    }

    static String applicationName(String scenario, String contender) {
        return PREFIX + scenario + "-" + contender;
    }

    /**
     * The most connections seen open at once under {@code applicationName}.
     *
     * @throws IllegalStateException if the sampler stopped or never saw the name: a count of 0 would
     *     pass every "at most" target
     */
    int peak(String applicationName) {
        if (failure != null) {
            throw new IllegalStateException("The connection sampler stopped: " + failure);
        }
        Integer peak = peaks.get(applicationName);
        if (peak == null) {
            throw new IllegalStateException("The connection sampler never saw a connection of " + applicationName);
        }
        return peak;
    }

    private void sample(BenchmarkDatabase database) {
        try (Connection connection = database.connect("pals-bench-sampler");
                PreparedStatement count = connection.prepareStatement("SELECT application_name, count(*) "
                        + "FROM pg_stat_activity WHERE application_name LIKE '" + PREFIX + "%' GROUP BY 1")) {
            while (running) {
                try (ResultSet rows = count.executeQuery()) {
                    while (rows.next()) {
                        peaks.merge(rows.getString(1), rows.getInt(2), Math::max);
                    }
                }
                Thread.sleep(20);
            }
        } catch (SQLException e) {
            failure = e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join(5_000);
    }
}
