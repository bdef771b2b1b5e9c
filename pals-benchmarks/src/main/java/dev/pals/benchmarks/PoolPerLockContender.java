package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The design of the Python library PALs, written plainly here: each lock checks a connection out
 * of a pool and holds it until released; the connection runs {@code pg_advisory_unlock_all()} on
 * its way back so that nothing leaks into the pool. A held lock costs a connection.
 */
final class PoolPerLockContender extends Contender {

    private final HikariDataSource pool;

    PoolPerLockContender(HikariDataSource pool) {
        this.pool = pool;
    }

    @Override
    @Nullable Held tryHold(String name) throws SQLException {
        return take(name, "SELECT pg_try_advisory_lock(?)");
    }

    @Override
    @Nullable Held hold(String name, Duration timeout) throws SQLException {
        return take(name, "SELECT pg_advisory_lock(?) IS NOT NULL");
    }

    private @Nullable Held take(String name, String sql) throws SQLException {
        Connection connection = pool.getConnection();
        long key = rawKey(name);
        try {
            if (!query(connection, sql, key)) {
                connection.close();
                return null;
            }
        } catch (SQLException | RuntimeException e) {
            connection.close();
            throw e;
        }
        return () -> {
            try (connection) {
                query(connection, "SELECT pg_advisory_unlock(?)", key);
                try (PreparedStatement all = connection.prepareStatement("SELECT pg_advisory_unlock_all()")) {
                    all.execute();
                }
            }
        };
    }

    private static boolean query(Connection connection, String sql, long key) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            statement.setLong(1, key);
            try (ResultSet row = statement.executeQuery()) {
                return row.next() && row.getBoolean(1);
            }
        }
    }

    @Override
    public void close() {
        pool.close();
    }
}
