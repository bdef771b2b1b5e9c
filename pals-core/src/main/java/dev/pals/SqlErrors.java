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

    /**
     * What a failed lock statement means, once a lost connection is ruled out: a deadlock, a full
     * lock table, a wait cut short by the server, or something unexpected.
     *
     * @param what the operation, for the message: "try", "wait for", ...
     */
    static RuntimeException lockFailure(String what, String lockName, LockMode mode, SQLException e) {
        if (is(e, DEADLOCK_DETECTED)) {
            return new AcquireFailureException(lockName, mode, AcquireFailureException.Reason.DEADLOCK, null, e);
        }
        if (is(e, OUT_OF_MEMORY)) {
            return new LockCapacityException(lockName, e);
        }
        if (is(e, QUERY_CANCELED)) {
            return new LockException("PostgreSQL cancelled the wait for lock '" + lockName + "' before its timeout, "
                    + "probably because the server's statement_timeout is shorter than the wait: raise it (0 turns "
                    + "it off) for the user or database that takes the lock, or wait less (" + e.getMessage() + ")", e);
        }
        return unexpected(what, lockName, e);
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
