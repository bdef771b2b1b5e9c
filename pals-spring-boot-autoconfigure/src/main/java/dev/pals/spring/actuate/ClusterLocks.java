package dev.pals.spring.actuate;

import dev.pals.LockKey;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Reads every advisory lock of the lock database from {@code pg_locks}, with the session behind
 * it from {@code pg_stat_activity}: held and awaited, by every client, not only this instance.
 */
final class ClusterLocks {

    /**
     * Advisory locks of the current database; holders before waiters of each key, waiters by
     * arrival. {@code %s} is {@code l.waitstart}, or null before PostgreSQL 14, which lacks it.
     */
    private static final String QUERY = """
            SELECT l.classid, l.objid, l.objsubid, l.mode, l.granted, l.pid, %s AS waitstart,
                   a.application_name, host(a.client_addr), a.backend_start, a.xact_start
            FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory'
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY l.classid, l.objid, l.objsubid, l.granted DESC, waitstart, l.pid
            LIMIT ?""";

    /** One row of {@code pg_locks}; no pid for a lock of a prepared transaction. */
    record Row(LockKey key, boolean shared, boolean granted, @Nullable Integer pid, @Nullable Instant waitingSince,
            @Nullable String applicationName, @Nullable String clientAddress, @Nullable Instant sessionStart,
            @Nullable Instant transactionStart) {
    }

    private final DataSource dataSource;

    ClusterLocks(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** At most {@code limit} rows, so that a lock table of millions does not flood the endpoint. */
    List<Row> read(int limit) throws SQLException {
        List<Row> rows = new ArrayList<>();
        try (Connection connection = dataSource.getConnection();
                PreparedStatement statement = connection.prepareStatement(QUERY.formatted(
                        connection.getMetaData().getDatabaseMajorVersion() >= 14 ? "l.waitstart" : "NULL::timestamptz"))) {
            statement.setInt(1, limit);
            try (ResultSet result = statement.executeQuery()) {
                while (result.next()) {
                    rows.add(new Row(key(result.getLong(1), result.getLong(2), result.getInt(3)),
                            "ShareLock".equals(result.getString(4)), result.getBoolean(5),
                            result.getObject(6, Integer.class),
                            instant(result.getTimestamp(7)), result.getString(8), result.getString(9),
                            instant(result.getTimestamp(10)), instant(result.getTimestamp(11))));
                }
            }
        }
        return rows;
    }

    /** An {@code objSubId} of 1 is one bigint key split in two oids; 2 is a pair of ints. */
    static LockKey key(long classId, long objId, int objSubId) {
        return objSubId == 2 ? LockKey.of((int) classId, (int) objId) : LockKey.of((classId << 32) | objId);
    }

    private static @Nullable Instant instant(@Nullable Timestamp timestamp) {
        return timestamp == null ? null : timestamp.toInstant();
    }
}
