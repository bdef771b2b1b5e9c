package dev.pals;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One PostgreSQL session out of the DataSource: its connection, its statements, and the keys it
 * holds. Statements run one at a time under {@link #io}; the fields the pool decides on are
 * guarded by the pool's lock.
 */
final class Session {

    private static final String[] TRY = {"pg_try_advisory_lock", "pg_try_advisory_lock_shared"};
    private static final String[] UNLOCK = {"pg_advisory_unlock", "pg_advisory_unlock_shared"};
    private static final String[] WAIT = {"pg_advisory_lock", "pg_advisory_lock_shared"};

    final Connection connection;
    final int backendPid;

    /** Serializes statements: a JDBC connection runs one at a time. */
    final ReentrantLock io = new ReentrantLock();

    /** The keys this session holds on the server, for loss reporting. */
    final Set<KeyState> held = ConcurrentHashMap.newKeySet();

    /** Guarded by the pool's lock: threads that chose this session and have not finished. */
    int users;
    /** Guarded by the pool's lock: running a blocking wait, so it must hold nothing else. */
    boolean waiting;
    /**
     * Its connection failed; it takes no more work. Written under the pool's lock; volatile because
     * acquirers read it, without that lock, to learn that a lock just granted on it is already lost.
     */
    volatile boolean broken;
    /** Guarded by the pool's lock: when it last became idle and empty, in nanoTime. */
    long idleSince = System.nanoTime();

    /** Guarded by {@link #io}. */
    private final Map<String, PreparedStatement> statements = new HashMap<>();

    Session(Connection connection, int backendPid) {
        this.connection = connection;
        this.backendPid = backendPid;
    }

    boolean tryLock(LockKey key, LockMode mode) throws SQLException {
        return queryBoolean(sql(TRY, key, mode, false), key);
    }

    boolean unlock(LockKey key, LockMode mode) throws SQLException {
        return queryBoolean(sql(UNLOCK, key, mode, false), key);
    }

    /**
     * A new statement for one server-side wait, for the caller to close: {@code lock_timeout} is
     * set local to the statement's own implicit transaction, so it cannot leak into later
     * statements of the session. Not cached, so that a late cancel meant for this wait can never
     * reach another one.
     */
    PreparedStatement waitStatement(LockKey key, LockMode mode, String lockTimeoutMillis) throws SQLException {
        PreparedStatement statement = connection.prepareStatement(sql(WAIT, key, mode, true));
        statement.setString(key.bind(statement, 1), lockTimeoutMillis);
        return statement;
    }

    /** Whether this session holds {@code key} in any mode, from {@code pg_locks}. */
    boolean holds(LockKey key) throws SQLException {
        PreparedStatement statement = statement("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                + " AND pid = pg_backend_pid() AND granted AND classid = ? AND objid = ? AND objsubid = ?)");
        statement.setLong(1, key.classId());
        statement.setLong(2, key.objId());
        statement.setInt(3, key.objSubId());
        try (ResultSet rows = statement.executeQuery()) {
            return rows.next() && rows.getBoolean(1);
        }
    }

    void unlockAll() throws SQLException {
        try (ResultSet rows = statement("SELECT pg_advisory_unlock_all()").executeQuery()) {
            rows.next();
        }
    }

    void ping() throws SQLException {
        try (ResultSet rows = statement("SELECT 1").executeQuery()) {
            rows.next();
        }
    }

    private boolean queryBoolean(String sql, LockKey key) throws SQLException {
        PreparedStatement statement = statement(sql);
        key.bind(statement, 1);
        try (ResultSet rows = statement.executeQuery()) {
            return rows.next() && rows.getBoolean(1);
        }
    }

    private PreparedStatement statement(String sql) throws SQLException {
        PreparedStatement statement = statements.get(sql);
        if (statement == null) {
            statement = connection.prepareStatement(sql);
            statements.put(sql, statement);
        }
        return statement;
    }

    private static String sql(String[] functions, LockKey key, LockMode mode, boolean withTimeout) {
        String call = functions[mode.ordinal()] + (key.isPair() ? "(?, ?)" : "(?)");
        return withTimeout
                ? "SELECT " + call + " FROM (SELECT set_config('lock_timeout', ?, true)) AS lock_timeout"
                : "SELECT " + call;
    }

    @Override
    public String toString() {
        return "session of backend " + backendPid;
    }
}
