package dev.pals.spring.actuate;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

/**
 * The PostgreSQL server's shared lock table, which advisory locks share with every other lock of
 * every database of the server: how many entries it is sized for and how many are in use. When it
 * is full the next lock fails with 53200 ("out of shared memory"), so the health details and the
 * gauges show its use, and a WARN is logged once each time the use rises above the warning
 * threshold (an INFO once it falls below again).
 *
 * <p>Capacity is PostgreSQL's documented sizing, {@code max_locks_per_transaction * (max_connections
 * + max_prepared_transactions)}; the server has a little more room (slots of its background
 * processes, spare shared memory), so the warning errs early. Use is the count of {@code pg_locks}
 * entries in the shared table: every lock type, fast-path relation locks and predicate locks
 * excepted, as they live elsewhere.
 *
 * <p>Reading {@code pg_locks} briefly holds the server's lock-table partitions and costs more the
 * fuller the table is, so a reading is reused for the read interval: however often the health
 * endpoint is called or the gauges are scraped, the server is asked at most once per interval.
 * A caller that finds the reading stale reads again on its own thread (borrowing a lock-pool
 * connection, bounded by the pool's connection timeout); callers arriving meanwhile get the previous
 * reading without waiting. Thread-safe.
 */
public final class ServerLockTable {

    private static final Log LOG = LogFactory.getLog(ServerLockTable.class);

    private static final String QUERY = """
            SELECT (SELECT count(*) FROM pg_locks WHERE NOT fastpath AND mode <> 'SIReadLock'),
                   current_setting('max_locks_per_transaction')::bigint
                       * (current_setting('max_connections')::bigint
                          + current_setting('max_prepared_transactions')::bigint)""";

    /**
     * One reading of the lock table.
     *
     * @param used entries in use, by every session of the server
     * @param capacity entries the table is sized for
     * @param readAt when the server was asked
     */
    public record Usage(long used, long capacity, Instant readAt) {

        /** {@code used / capacity}: 1 or more is full. */
        public double ratio() {
            return capacity == 0 ? 1 : (double) used / capacity;
        }
    }

    private final DataSource lockDatabase;
    private final double warningThreshold;
    private final Duration readInterval;
    private final Clock clock;
    private final ReentrantLock reading = new ReentrantLock();
    private volatile @Nullable Usage last;
    private volatile @Nullable String failure;
    /** Guarded by {@link #reading}: whether the last reading was at or above the threshold. */
    private boolean warned;

    /**
     * Reads the lock table of the server behind {@code lockDatabase}.
     *
     * @param lockDatabase the lock pool (or the service's lock DataSource), which a reading borrows
     *     a connection from
     * @param warningThreshold the share of the capacity, above 0 and at most 1, at and above which
     *     the table is reported as nearly full
     * @param readInterval how long a reading is reused
     */
    public ServerLockTable(DataSource lockDatabase, double warningThreshold, Duration readInterval) {
        this(lockDatabase, warningThreshold, readInterval, Clock.systemUTC());
    }

    ServerLockTable(DataSource lockDatabase, double warningThreshold, Duration readInterval, Clock clock) {
        if (!(warningThreshold > 0 && warningThreshold <= 1)) {
            throw new IllegalArgumentException("warningThreshold must be above 0 and at most 1, but was "
                    + warningThreshold);
        }
        this.lockDatabase = lockDatabase;
        this.warningThreshold = warningThreshold;
        this.readInterval = readInterval;
        this.clock = clock;
    }

    /** The share of the capacity at and above which the table is reported as nearly full. */
    public double warningThreshold() {
        return warningThreshold;
    }

    /**
     * The latest reading, read again first if it is older than the read interval and no other
     * thread is reading; {@code null} if the server never answered (then {@link #failure()} says why).
     */
    public @Nullable Usage usage() {
        Usage current = last;
        if (current != null && !stale(current)) {
            return current;
        }
        if (!reading.tryLock()) {
            return current;
        }
        try {
            current = last;
            if (current == null || stale(current)) {
                current = read(current);
            }
            return current;
        } finally {
            reading.unlock();
        }
    }

    /** Why the last reading failed, or {@code null} if it did not. */
    public @Nullable String failure() {
        return failure;
    }

    /** Whether {@code usage} is at or above the warning threshold. */
    public boolean nearlyFull(Usage usage) {
        return usage.ratio() >= warningThreshold;
    }

    private boolean stale(Usage usage) {
        return !usage.readAt().plus(readInterval).isAfter(clock.instant());
    }

    private @Nullable Usage read(@Nullable Usage previous) {
        Usage usage;
        try (Connection connection = lockDatabase.getConnection(); Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery(QUERY)) {
            row.next();
            usage = new Usage(row.getLong(1), row.getLong(2), clock.instant());
        } catch (SQLException e) {
            failure = e.getMessage();
            return previous;
        }
        failure = null;
        last = usage;
        boolean above = nearlyFull(usage);
        if (above && !warned) {
            LOG.warn("The PostgreSQL server's lock table is " + percent(usage.ratio()) + " full (" + usage.used()
                    + " of about " + usage.capacity() + " entries, warning at " + percent(warningThreshold)
                    + "); when it is full, locks of every client of the server fail with 53200 (out of shared "
                    + "memory): raise max_locks_per_transaction (or max_connections) on the server, or hold fewer locks");
        } else if (!above && warned) {
            LOG.info("The PostgreSQL server's lock table is back below " + percent(warningThreshold) + " ("
                    + percent(usage.ratio()) + ", " + usage.used() + " of about " + usage.capacity() + " entries)");
        }
        warned = above;
        return usage;
    }

    static String percent(double ratio) {
        return String.format(Locale.ROOT, "%.1f%%", 100 * ratio);
    }
}
