package dev.pals;

import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import org.jspecify.annotations.Nullable;

/** What PostgreSQL's SQLSTATEs mean for a lock operation. */
final class SqlErrors {

    static final String LOCK_NOT_AVAILABLE = "55P03";
    static final String QUERY_CANCELED = "57014";
    static final String DEADLOCK_DETECTED = "40P01";
    static final String OUT_OF_MEMORY = "53200";

    private SqlErrors() {
    }

    static boolean is(SQLException e, String sqlState) {
        return sqlState.equals(e.getSQLState());
    }

    /**
     * Whether the session is gone: a connection failure (class 08), an administrator's
     * termination or a server shutdown (57P01-57P03), or a connection the driver closed.
     */
    static boolean isSessionLost(SQLException e, java.sql.@Nullable Connection connection) {
        String state = e.getSQLState();
        if (state != null && (state.startsWith("08") || state.equals("57P01") || state.equals("57P02")
                || state.equals("57P03"))) {
            return true;
        }
        if (e instanceof SQLTransientConnectionException) {
            return true;
        }
        if (connection == null) {
            return false;
        }
        try {
            return connection.isClosed();
        } catch (SQLException closedCheck) {
            return true;
        }
    }

    /** No connection could be had from the DataSource: the server is down or unreachable. */
    static LockException unreachable(String lockName, SQLException e) {
        return new LockException("Could not take lock '" + lockName + "': no connection to the lock database could "
                + "be opened (" + e.getMessage() + "); nothing is held. Check that the database is up and reachable; "
                + "the registry reconnects by itself once it is", e);
    }

    static LockException unexpected(String what, String lockName, SQLException e) {
        return new LockException("PostgreSQL failed while trying to " + what + " lock '" + lockName + "': "
                + e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")", e);
    }
}
