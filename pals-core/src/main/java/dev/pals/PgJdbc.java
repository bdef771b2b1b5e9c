package dev.pals;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * The only code that knows PgJDBC, an optional dependency: where a connection is PgJDBC's, three
 * calls go through its own API, which plain JDBC cannot match; on any other driver, or without
 * PgJDBC on the class path, they fall back to plain JDBC. {@code org.postgresql} is named only in
 * {@link Calls}, which is loaded only once the driver's class was found.
 */
final class PgJdbc {

    /** PgJDBC's connection interface as the core's class loader sees it, or null without the driver. */
    private static final @Nullable Class<?> CONNECTION = find("org.postgresql.PGConnection");

    private PgJdbc() {
    }

    /**
     * Asks the server to cancel what {@code connection} runs now. PgJDBC sends a fresh cancel request
     * each time: its {@code Statement.cancel()} sends one only while it believes the statement is
     * running, and none after the first, so a cancel that reached the server before the statement
     * did could never be repeated. Elsewhere {@code running.cancel()}, the driver's own.
     */
    static void cancel(Connection connection, Statement running) throws SQLException {
        if (isPgJdbc(connection)) {
            Calls.cancelQuery(connection);
        } else {
            running.cancel();
        }
    }

    /** The connection's backend: PgJDBC knows it without a round trip; other drivers are asked. */
    static int backendPid(Connection connection) throws SQLException {
        if (isPgJdbc(connection)) {
            return Calls.backendPid(connection);
        }
        try (Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SELECT pg_backend_pid()")) {
            row.next();
            return row.getInt(1);
        }
    }

    /** Whether {@link #notifications} can be read on {@code connection}: only PgJDBC's can. */
    static boolean canReadNotifications(Connection connection) throws SQLException {
        return isPgJdbc(connection);
    }

    /**
     * The payloads of the notifications {@code connection} received, waiting up to
     * {@code timeoutMillis} for the first; PgJDBC holds the connection meanwhile, so nothing else
     * may use it. Only where {@link #canReadNotifications} said so.
     */
    static List<String> notifications(Connection connection, int timeoutMillis) throws SQLException {
        return Calls.notifications(connection, timeoutMillis);
    }

    private static boolean isPgJdbc(Connection connection) throws SQLException {
        return CONNECTION != null && connection.isWrapperFor(CONNECTION);
    }

    private static @Nullable Class<?> find(String name) {
        try {
            return Class.forName(name, false, PgJdbc.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError absent) {
            return null;
        }
    }

    /** PgJDBC's API itself; loading this class needs the driver, so only {@link PgJdbc} calls it, after checking. */
    private static final class Calls {

        static void cancelQuery(Connection connection) throws SQLException {
            connection.unwrap(PGConnection.class).cancelQuery();
        }

        static int backendPid(Connection connection) throws SQLException {
            return connection.unwrap(PGConnection.class).getBackendPID();
        }

        static List<String> notifications(Connection connection, int timeoutMillis) throws SQLException {
            PGNotification[] received = connection.unwrap(PGConnection.class).getNotifications(timeoutMillis);
            List<String> payloads = new ArrayList<>();
            if (received != null) {
                for (PGNotification notification : received) {
                    payloads.add(notification.getParameter());
                }
            }
            return payloads;
        }
    }
}
