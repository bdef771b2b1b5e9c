package dev.pals;

import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Opens the sessions of a {@link SessionPool}, each on a connection of the DataSource, proven to
 * lead to a PostgreSQL primary with the lease's settings applied; and, once, that the DataSource
 * keeps one PostgreSQL session per connection. Also closes their connections, never throwing.
 */
final class SessionOpener {

    private static final System.Logger LOG = System.getLogger(SessionOpener.class.getName());

    private final DataSource dataSource;
    private final int maxConnections;
    private final Lease lease;
    /** What the server reported for the last session opened, for {@link #leaseBounds()}. */
    private volatile @Nullable ServerLease serverLease;
    /** The last problem with the server's settings that was logged, so that each is logged once. */
    private volatile @Nullable String reportedProblem;
    /** Whether the DataSource was checked for keeping one PostgreSQL session per connection. */
    private volatile boolean sessionsChecked;
    /** Shared by every session opened here: the registry's reading of the wait flag. */
    private final WaitFlag flag;
    /** One thread checks, before any other borrows, so that a burst of first opens cannot starve it. */
    private final ReentrantLock checking = new ReentrantLock();

    SessionOpener(DataSource dataSource, int maxConnections, Lease lease, WaitFlag flag) {
        this.flag = flag;
        this.dataSource = dataSource;
        this.maxConnections = maxConnections;
        this.lease = lease;
    }

    /** The lease's bounds, with the server's side as the last session opened reported it. */
    LeaseBounds leaseBounds() {
        ServerLease server = serverLease;
        if (server == null) {
            return new LeaseBounds(lease.lossDetection(), lease.silentClientTimeout, null, null, null);
        }
        return new LeaseBounds(lease.lossDetection(), lease.silentClientTimeout, server.release(), server.describe(),
                lease.problem(server));
    }

    /**
     * A pool may hand out a connection whose backend has just died (pools skip their check for
     * recently used connections); its first statement finds out, and one more connection is taken.
     */
    Session open() throws SQLException {
        return open(flag);
    }

    /** As {@link #open()}, for a session whose unlocks read {@code flag} instead of the registry's. */
    Session open(WaitFlag flag) throws SQLException {
        if (sessionsChecked || maxConnections < 2) {
            return openVerified(flag);
        }
        checking.lock();
        try {
            Session session = openVerified(flag);
            if (!sessionsChecked) {
                try {
                    checkOneSessionPerConnection(session);
                } catch (SQLException | RuntimeException e) {
                    closeQuietly(session.connection);
                    throw e;
                }
                sessionsChecked = true;
            }
            return session;
        } finally {
            checking.unlock();
        }
    }

    private Session openVerified(WaitFlag flag) throws SQLException {
        Connection connection = dataSource.getConnection();
        try {
            return verified(connection, flag);
        } catch (SQLException e) {
            closeQuietly(connection);
            if (!SqlErrors.isSessionLost(e, null)) {
                throw e;
            }
        } catch (RuntimeException e) {
            closeQuietly(connection);
            throw e;
        }
        Connection another = dataSource.getConnection();
        try {
            return verified(another, flag);
        } catch (SQLException | RuntimeException e) {
            closeQuietly(another);
            throw e;
        }
    }

    /** Proves the connection leads to a PostgreSQL primary, not another database or a standby. */
    private Session verified(Connection connection, WaitFlag flag) throws SQLException {
        String product = connection.getMetaData().getDatabaseProductName();
        if (!"PostgreSQL".equalsIgnoreCase(product)) {
            throw new UnsupportedLockServerException("The lock DataSource connects to " + product
                    + ", not PostgreSQL: advisory locks need PostgreSQL. Point the lock DataSource at a PostgreSQL "
                    + "database (jdbc:postgresql://...).", null);
        }
        if (!connection.getAutoCommit()) {
            connection.setAutoCommit(true);
        }
        int originalNetworkTimeout = connection.getNetworkTimeout();
        ServerLease server = lease.apply(connection, connection.getMetaData().getDatabaseMajorVersion());
        serverLease = server;
        String problem = lease.problem(server);
        if (problem != null && !problem.equals(reportedProblem)) {
            reportedProblem = problem;
            LOG.log(Level.WARNING, problem);
        }
        try (Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SELECT pg_backend_pid(), pg_is_in_recovery()")) {
            row.next();
            if (row.getBoolean(2)) {
                throw new UnsupportedLockServerException("The lock DataSource connects to a PostgreSQL standby in "
                        + "recovery: advisory locks taken there do not exclude clients of the primary. Connect to "
                        + "the primary, for example with targetServerType=primary in the JDBC URL.", null);
            }
            return new Session(connection, row.getInt(1), originalNetworkTimeout, flag);
        }
    }

    /**
     * Refuses a pooler that hands out PostgreSQL sessions per transaction (such as PgBouncer in
     * transaction mode), under which session locks would be taken and released on different
     * sessions. While a second connection holds a transaction open, a direct connection keeps its
     * backend and the second gets another; behind such a pooler the second gets the first one's
     * backend, or the first one's backend changes.
     */
    private void checkOneSessionPerConnection(Session first) throws SQLException {
        Connection second;
        try {
            second = dataSource.getConnection();
        } catch (SQLException e) {
            LOG.log(Level.WARNING, () -> "Could not open a second connection to check that the lock DataSource keeps "
                    + "one PostgreSQL session per connection; give it at least maxConnections connections ("
                    + e.getMessage() + ")");
            return;
        }
        try (Connection other = second) {
            boolean autoCommit = other.getAutoCommit();
            other.setAutoCommit(false);
            try {
                int otherPid = backendPid(other);
                int firstPid = backendPid(first.connection);
                if (otherPid == first.backendPid || firstPid != first.backendPid) {
                    throw new UnsupportedLockServerException("The lock DataSource goes through a connection pooler "
                            + "that does not keep one PostgreSQL session per connection (backend " + first.backendPid
                            + " was handed to another connection, or changed under this one), such as PgBouncer in "
                            + "transaction mode: session locks would be taken and released on different sessions. "
                            + "Point the lock DataSource at PostgreSQL directly or at a pooler in session mode; "
                            + "transaction-scoped locks do work through it.", null);
                }
            } finally {
                other.rollback();
                other.setAutoCommit(autoCommit);
            }
        }
    }

    private static int backendPid(Connection connection) throws SQLException {
        // the same volatile query as the first, so that a balancing pooler routes both alike
        try (Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SELECT pg_backend_pid(), pg_is_in_recovery()")) {
            row.next();
            return row.getInt(1);
        }
    }

    static void abort(Connection connection) {
        try {
            connection.abort(Runnable::run);
        } catch (SQLException | RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "Aborting a lock connection failed: " + e.getMessage());
        }
        closeQuietly(connection);
    }

    static void closeQuietly(Connection connection) {
        try {
            connection.close();
        } catch (SQLException | RuntimeException e) {
            // HikariCP 7 may throw a NullPointerException resetting a connection it evicted as it was aborted
            LOG.log(Level.DEBUG, () -> "Closing a lock connection failed: " + e.getMessage());
        }
    }
}
