package dev.pals;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;

/**
 * The two clocks of a session lock's lease, and what each lock connection does to keep them in
 * order. A session lock lasts as long as its PostgreSQL session; when the network goes silent no
 * reset arrives, so two bounds decide who learns first:
 * <ul>
 *   <li>the client's, {@link #lossDetection()}: a holder learns its connection stopped answering
 *       within one loss-check interval plus the check's own network timeout;
 *   <li>the server's, {@code silentClientTimeout}: PostgreSQL ends a session whose client it no
 *       longer hears from, and so frees its locks, after what the session's
 *       {@code tcp_keepalives_*} and {@code tcp_user_timeout} allow. Each lock connection sets
 *       them when it opens, since the server's defaults keep a dead host's locks for about two
 *       hours.
 * </ul>
 * The registry refuses settings where the first is not safely shorter than the second, so that a
 * holder whose process runs is told of its loss before anyone else can be granted the lock.
 */
final class Lease {

    /** How often a waiting backend checks that its client is still there (PostgreSQL 14+). */
    static final Duration CLIENT_CHECK = Duration.ofSeconds(1);
    /** The longest silent-client timeout: Linux takes a keepalive idle time of at most 32,767 s, half of this. */
    static final Duration LONGEST_SILENT_CLIENT_TIMEOUT = Duration.ofHours(18);
    /** The session settings a lock connection changes, given back when it returns to the DataSource. */
    private static final String[] SETTINGS = {"tcp_keepalives_idle", "tcp_keepalives_interval",
        "tcp_keepalives_count", "tcp_user_timeout"};
    private static final System.Logger LOG = System.getLogger(Lease.class.getName());
    /** A lock connection's network timeout fires in the driver; the executor is only JDBC's formality. */
    static final Executor DIRECT = Runnable::run;

    final Duration lossCheckInterval;
    final Duration networkTimeout;
    final Duration silentClientTimeout;
    final int keepalivesIdle;
    final int keepalivesInterval;
    final int keepalivesCount;

    Lease(Duration lossCheckInterval, Duration networkTimeout, Duration silentClientTimeout) {
        this.lossCheckInterval = lossCheckInterval;
        this.networkTimeout = networkTimeout;
        this.silentClientTimeout = silentClientTimeout;
        // the first probe after half the bound, then probes that use up at least the other half
        long seconds = silentClientTimeout.toSeconds();
        this.keepalivesIdle = (int) Math.max(1, (seconds + 1) / 2);
        this.keepalivesInterval = (int) Math.max(1, (seconds - keepalivesIdle) / 4);
        this.keepalivesCount = (int) Math.max(1,
                (seconds - keepalivesIdle + keepalivesInterval - 1) / keepalivesInterval);
    }

    /** The longest a holder can go on believing it holds after its connection stopped answering. */
    Duration lossDetection() {
        return lossCheckInterval.plus(networkTimeout);
    }

    /**
     * What the server bound must exceed: the client bound plus a margin as long again (at least one
     * second) for scheduling delays and pauses of the holder's JVM.
     */
    Duration required() {
        Duration detection = lossDetection();
        return detection.plus(detection.compareTo(Duration.ofSeconds(1)) > 0 ? detection : Duration.ofSeconds(1));
    }

    /**
     * Refuses settings under which PostgreSQL could free a silent holder's locks before the
     * holder is told.
     *
     * @throws IllegalArgumentException naming the settings and how to fix them
     */
    void check() {
        if (silentClientTimeout.compareTo(required()) <= 0) {
            throw new IllegalArgumentException("silentClientTimeout " + silentClientTimeout + " is too short for the "
                    + "loss detection: a holder learns of a silent connection within lossCheckInterval "
                    + lossCheckInterval + " + networkTimeout " + networkTimeout + " = " + lossDetection() + ", and "
                    + "PostgreSQL must not free its locks before then, with a margin as long again (at least 1 s): "
                    + "make silentClientTimeout longer than " + required() + ", or lossCheckInterval or "
                    + "networkTimeout shorter");
        }
    }

    /**
     * Why the server's reported settings do not keep a silent holder's locks long enough, with
     * the figures and what to do; {@code null} when they do.
     */
    @Nullable String problem(ServerLease server) {
        Duration release = server.release();
        if (release == null) {
            return "PostgreSQL reports " + server.describe() + " for a lock connection, asked for a silent-client "
                    + "timeout of " + silentClientTimeout + ": it leaves a silent client's session, and its locks, to "
                    + "the operating system's TCP defaults (about 2 h 11 min on Linux), so a dead host's locks stay "
                    + "that long. Connect to the server over TCP (a Unix socket has no keepalives), directly rather "
                    + "than through a pooler, or set tcp_keepalives_idle, tcp_keepalives_interval, "
                    + "tcp_keepalives_count and tcp_user_timeout on the server";
        }
        if (release.compareTo(required()) <= 0) {
            return "PostgreSQL reports " + server.describe() + " for a lock connection: it may free a silent "
                    + "holder's locks after " + release + ", before the holder is told (within " + lossDetection()
                    + ", and the margin asks for more than " + required() + "). Raise those settings on the server, "
                    + "or shorten lossCheckInterval or networkTimeout";
        }
        return null;
    }

    /** The network timeout of a lock connection, in the milliseconds JDBC takes. */
    int networkTimeoutMillis() {
        return millis(networkTimeout);
    }

    /**
     * The network timeout for a server wait that may last until {@code deadline}: the wait's own
     * time plus the network timeout; 0 (none) for a wait without limit, which the server bound and
     * {@code client_connection_check_interval} keep from outliving a dead peer on the server side.
     */
    int waitNetworkTimeoutMillis(long deadline) {
        if (deadline == Long.MAX_VALUE) {
            return 0;
        }
        return millis(Duration.ofNanos(Timeouts.remaining(deadline)).plus(networkTimeout));
    }

    /**
     * Bounds every statement on {@code connection} and sets the server's keepalives for its
     * session, returning what the server says it now uses: a server may ignore a setting (for a
     * connection over a Unix socket it reads 0) or a pooler may apply it to its own connections.
     */
    ServerLease apply(Connection connection, int serverMajor) throws SQLException {
        connection.setNetworkTimeout(DIRECT, networkTimeoutMillis());
        String sql = "SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'), "
                + "current_setting('tcp_keepalives_count'), current_setting('tcp_user_timeout') FROM ("
                + "SELECT set_config('tcp_keepalives_idle', ?, false), set_config('tcp_keepalives_interval', ?, false), "
                + "set_config('tcp_keepalives_count', ?, false), set_config('tcp_user_timeout', ?, false)) AS applied";
        ServerLease server;
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            statement.setString(1, Integer.toString(keepalivesIdle));
            statement.setString(2, Integer.toString(keepalivesInterval));
            statement.setString(3, Integer.toString(keepalivesCount));
            statement.setString(4, Long.toString(silentClientTimeout.toMillis()));
            try (ResultSet row = statement.executeQuery()) {
                row.next();
                server = new ServerLease(millis(row.getString(1), 1000), millis(row.getString(2), 1000),
                        Integer.parseInt(row.getString(3).trim()), millis(row.getString(4), 1));
            }
        }
        if (serverMajor >= 14) {
            checkClientWhileWaiting(connection);
        }
        return server;
    }

    /** A server on a platform without the check (Windows) refuses anything but 0; waits then go unchecked. */
    private static void checkClientWhileWaiting(Connection connection) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT set_config('client_connection_check_interval', ?, false)")) {
            statement.setString(1, Long.toString(CLIENT_CHECK.toMillis()));
            statement.executeQuery().close();
        } catch (SQLException e) {
            if (!"22023".equals(e.getSQLState())) {
                throw e;
            }
            LOG.log(System.Logger.Level.DEBUG, () -> "The server cannot check for vanished clients while they wait: "
                    + e.getMessage());
        }
    }

    /**
     * Gives back the session settings {@link #apply} changed, for a connection going back to a
     * DataSource that others may share; the caller closes it whatever happens.
     */
    static void reset(Connection connection, int networkTimeoutMillis) throws SQLException {
        StringBuilder sql = new StringBuilder();
        for (String setting : SETTINGS) {
            sql.append("RESET ").append(setting).append("; ");
        }
        if (connection.getMetaData().getDatabaseMajorVersion() >= 14) {
            sql.append("RESET client_connection_check_interval");
        }
        try (Statement statement = connection.createStatement()) {
            statement.execute(sql.toString());
        }
        connection.setNetworkTimeout(DIRECT, networkTimeoutMillis);
    }

    private static int millis(Duration duration) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, duration.toMillis()));
    }

    /**
     * A time setting as {@code current_setting} shows it, in milliseconds: {@code 10} in the
     * setting's base unit (what the keepalive settings show), or with a unit ({@code 10s}, {@code 2min}).
     */
    static long millis(String setting, long baseUnitMillis) {
        String text = setting.trim();
        int unit = 0;
        while (unit < text.length() && (Character.isDigit(text.charAt(unit)) || text.charAt(unit) == '.')) {
            unit++;
        }
        double value = Double.parseDouble(text.substring(0, unit));
        return switch (text.substring(unit).trim()) {
            case "" -> Math.round(value * baseUnitMillis);
            case "ms" -> Math.round(value);
            case "s" -> Math.round(value * 1000);
            case "min" -> Math.round(value * 60_000);
            case "h" -> Math.round(value * 3_600_000);
            case "d" -> Math.round(value * 86_400_000);
            default -> throw new IllegalArgumentException("Unexpected time setting '" + setting + "'");
        };
    }
}
