package dev.pals;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * One PostgreSQL session out of the DataSource: its connection, its statements, and the keys it
 * holds. Statements run one at a time under {@link #io}; tries and unlocks that queue up meanwhile
 * go together in one statement. The fields the pool decides on are guarded by the pool's lock.
 */
final class Session {

    private static final String[] TRY = {"pg_try_advisory_lock", "pg_try_advisory_lock_shared"};
    private static final String[] UNLOCK = {"pg_advisory_unlock", "pg_advisory_unlock_shared"};
    private static final String[] WAIT = {"pg_advisory_lock", "pg_advisory_lock_shared"};
    /** A safety net only: callers are woken when answered or when {@link #io} is let go. */
    private static final long PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final String TRY_BATCH = batchSql("pg_try_advisory_lock");
    private static final String UNLOCK_PLAIN_BATCH = batchSql("pg_advisory_unlock");
    private static final String UNLOCK_BATCH = "SELECT un.u FROM unnest(?::bigint[], ?::boolean[], ?::bigint[])"
            + " WITH ORDINALITY AS call(k, s, m, i), LATERAL (SELECT CASE WHEN s THEN pg_advisory_unlock_shared(k)"
            + " ELSE pg_advisory_unlock(k) END AS u OFFSET 0) AS un, " + wakeWaiters("m", "k") + " ORDER BY i";

    final Connection connection;
    final int backendPid;
    /** The connection's network timeout before the registry set its own, given back with the connection. */
    final int originalNetworkTimeoutMillis;

    /** Serializes statements: a JDBC connection runs one at a time. Let go of it with {@link #releaseIo()}. */
    final ReentrantLock io = new OrderedLock(OrderedLock.Level.SESSION_IO);

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

    /**
     * Being retired (unlocked and returned, or aborted) by the pool, which holds {@link #io} for
     * it: a statement that fails on it from then on failed because it was retired, not lost.
     */
    volatile boolean retired;
    /** Guarded by the pool's lock: when it last became idle and empty, in nanoTime. */
    long idleSince = System.nanoTime();

    /** Guarded by {@link #io}. */
    private final Map<String, PreparedStatement> statements = new HashMap<>();
    /** Tries and unlocks waiting for {@link #io}, sent together by whichever caller gets it next. */
    private final Queue<Call> queued = new ConcurrentLinkedQueue<>();

    Session(Connection connection, int backendPid, int originalNetworkTimeoutMillis) {
        this.connection = connection;
        this.backendPid = backendPid;
        this.originalNetworkTimeoutMillis = originalNetworkTimeoutMillis;
    }

    /**
     * {@code pg_try_advisory_lock} (or its shared form) on this session, run together with the other
     * tries queued here meanwhile.
     *
     * @throws InterruptedException if interrupted before the try was sent; if it was already on its
     *     way, its answer is returned instead and the thread's interrupt status is set
     */
    boolean tryLock(LockKey key, LockMode mode) throws SQLException, InterruptedException {
        return submit(new Call(key, mode, false), true);
    }

    /** {@code pg_advisory_unlock} (or its shared form) on this session, run together with other queued calls. */
    boolean unlock(LockKey key, LockMode mode) throws SQLException {
        try {
            return submit(new Call(key, mode, true), false);
        } catch (InterruptedException impossible) {
            throw new AssertionError(impossible);
        }
    }

    /**
     * Queues {@code call} and returns its answer. Whichever caller takes {@link #io} sends every call
     * queued by then, tries in one statement and unlocks in another, and wakes their callers with
     * their answers: many threads sharing few connections pay one round trip per batch instead of
     * one each, and a caller answered by another's batch never needs {@link #io} itself. A batch
     * never holds two calls for one key: a registry has at most one server call in flight per key.
     */
    private boolean submit(Call call, boolean interruptible) throws SQLException, InterruptedException {
        if (interruptible && Thread.interrupted()) {
            throw new InterruptedException("Interrupted before the lock call was sent");
        }
        queued.add(call);
        boolean interrupted = false;
        while (!call.done) {
            if (io.tryLock()) {
                // kept aside while this thread sends calls of others: on a virtual thread an interrupt
                // during socket I/O closes the connection, which would lose every lock of the session
                interrupted |= Thread.interrupted();
                try {
                    if (!call.done) {
                        runQueued();
                    }
                } finally {
                    releaseIo();
                }
            } else {
                // woken when a batch answered this call or when io was let go with calls queued
                LockSupport.parkNanos(this, PARK_NANOS);
                if (Thread.interrupted()) {
                    if (interruptible && queued.remove(call)) {
                        wakeNext();
                        throw new InterruptedException("Interrupted before the lock call was sent");
                    }
                    // already taken into a batch: its answer stands, and the interrupt is kept
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return call.outcome();
    }

    /**
     * Lets go of {@link #io} and wakes the caller of the oldest queued call, which then sends the
     * queue. Everyone who takes {@link #io} must let go of it here, or queued calls would wait for
     * the safety timeout.
     */
    void releaseIo() {
        io.unlock();
        wakeNext();
    }

    private void wakeNext() {
        Call next = queued.peek();
        if (next != null) {
            LockSupport.unpark(next.caller);
        }
    }

    /** Called with {@link #io} held: answers every queued call, whatever fails. */
    private void runQueued() {
        List<Call> taken = new ArrayList<>();
        try {
            List<Call> tries = new ArrayList<>();
            List<Call> unlocks = new ArrayList<>();
            List<List<Call>> groups = new ArrayList<>();
            for (Call call = queued.poll(); call != null; call = queued.poll()) {
                taken.add(call);
                if (call.key.isPair()) {
                    groups.add(List.of(call));
                } else {
                    (call.unlock ? unlocks : tries).add(call);
                }
            }
            groups.add(tries);
            groups.add(unlocks);
            groups.forEach(this::run);
        } finally {
            for (Call call : taken) {
                if (!call.done) {
                    call.fail(new SQLException("A lock call was taken from the queue but never answered"));
                }
            }
        }
    }

    /**
     * Tries or unlocks in one statement. On any failure, JVM errors included, each call gets it
     * (they reach their callers as exceptions, so a lock is never left held for want of an owner),
     * and tries are undone first.
     */
    private void run(List<Call> calls) {
        if (calls.isEmpty()) {
            return;
        }
        Call first = calls.get(0);
        try {
            if (first.unlock) {
                boolean[] results = unlocks(calls);
                for (int i = 0; i < calls.size(); i++) {
                    calls.get(i).succeed(results[i]);
                }
            } else if (calls.size() == 1) {
                first.succeed(queryBoolean(sql(TRY, first.key, first.mode, false), first.key));
            } else {
                boolean[] results = batch(TRY_BATCH, calls);
                for (int i = 0; i < calls.size(); i++) {
                    calls.get(i).succeed(results[i]);
                }
            }
        } catch (SQLException | RuntimeException | Error e) {
            SQLException failure = e instanceof SQLException sql ? sql
                    : new SQLException("A lock statement failed in the JVM: " + e, e);
            // a lone try that failed in the server took nothing; anything else may have taken some
            if (!first.unlock && (calls.size() > 1 || failure != e)) {
                undoTries(calls, failure);
            }
            calls.forEach(call -> call.fail(failure));
        }
    }

    /**
     * A failed statement may have taken some of its locks before failing (session locks outlive the
     * statement), and nobody will own them: each key of the batch is unlocked once, which frees
     * exactly what the batch took, as none of them was held by this registry before. If that fails
     * too, the session is ended, which frees them all; its callers then find it lost.
     */
    private void undoTries(List<Call> calls, SQLException failure) {
        try {
            // plain: a full lock table, which may be why the tries failed, has no slot for a marker check
            batch(UNLOCK_PLAIN_BATCH, calls);
        } catch (SQLException | RuntimeException | Error e) {
            failure.addSuppressed(e);
            try {
                connection.abort(Runnable::run);
            } catch (SQLException | RuntimeException | Error abortFailure) {
                failure.addSuppressed(abortFailure);
            }
        }
    }

    /**
     * Unlocks that wake this library's waiters ({@link #unlockOne}). A full lock table fails the
     * marker check, which needs a slot and runs only after an unlock succeeded, so the unlocks up to
     * there took effect; the plain unlock then frees the rest and answers false for those, which were
     * released: every call is answered released, and the waiters see it at their slow poll.
     */
    private boolean[] unlocks(List<Call> calls) throws SQLException {
        Call first = calls.get(0);
        try {
            return calls.size() == 1 ? new boolean[] {unlockOne(first.key, first.mode)} : batch(UNLOCK_BATCH, calls);
        } catch (SQLException e) {
            if (!SqlErrors.is(e, SqlErrors.OUT_OF_MEMORY)) {
                throw e;
            }
            if (calls.size() == 1) {
                queryBoolean(sql(UNLOCK, first.key, first.mode, false), first.key);
            } else {
                batch(UNLOCK_PLAIN_BATCH, calls);
            }
            boolean[] released = new boolean[calls.size()];
            Arrays.fill(released, true);
            return released;
        }
    }

    private boolean[] batch(String sql, List<Call> calls) throws SQLException {
        Long[] keys = new Long[calls.size()];
        Boolean[] shared = new Boolean[calls.size()];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = calls.get(i).key.value();
            shared[i] = calls.get(i).mode == LockMode.SHARED;
        }
        PreparedStatement statement = statement(sql);
        statement.setArray(1, connection.createArrayOf("bigint", keys));
        statement.setArray(2, connection.createArrayOf("boolean", shared));
        if (sql.equals(UNLOCK_BATCH)) {
            Long[] markers = new Long[keys.length];
            for (int i = 0; i < keys.length; i++) {
                markers[i] = ReleaseWakeups.marker(calls.get(i).key);
            }
            statement.setArray(3, connection.createArrayOf("bigint", markers));
        }
        boolean[] results = new boolean[keys.length];
        try (ResultSet rows = statement.executeQuery()) {
            for (int i = 0; i < results.length; i++) {
                if (!rows.next()) {
                    // never expected; a missing answer must not read as "not taken" and leave a try held
                    throw new SQLException("A batch of " + results.length + " lock calls got " + i + " answers");
                }
                results[i] = rows.getBoolean(1);
            }
        }
        return results;
    }

    /**
     * One unlock that, in the same statement, wakes this library's waiters of the key if any left a
     * marker ({@link ReleaseWakeups}): the marker is checked after the unlock, and the notification
     * goes out at the statement's commit, so a waiter it wakes finds the key free.
     */
    private boolean unlockOne(LockKey key, LockMode mode) throws SQLException {
        String unlock = UNLOCK[mode == LockMode.EXCLUSIVE ? 0 : 1] + (key.isPair() ? "(?, ?)" : "(?)");
        PreparedStatement statement = statement("SELECT un.u FROM (SELECT " + unlock + " AS u OFFSET 0) AS un, "
                + wakeWaiters("?::bigint", "?::bigint"));
        int next = key.bind(statement, 1);
        statement.setLong(next, ReleaseWakeups.marker(key));
        statement.setLong(next + 1, key.value());
        try (ResultSet rows = statement.executeQuery()) {
            return rows.next() && rows.getBoolean(1);
        }
    }

    /**
     * The lateral part of an unlock statement that notifies only if the unlock succeeded and the
     * {@code marker} is taken: trying it exclusively for the statement's own transaction fails then,
     * and costs no notification, nor its commit lock, when nobody waits.
     */
    private static String wakeWaiters(String marker, String key) {
        return "LATERAL (SELECT CASE WHEN un.u AND NOT pg_try_advisory_xact_lock(" + marker + ") THEN pg_notify('"
                + ReleaseWakeups.CHANNEL + "', " + key + "::text) IS NULL END AS n OFFSET 0) AS wake";
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
        return inPgLocks(key, "pid = pg_backend_pid() AND granted");
    }

    /** Whether some session of this database waits in the server for {@code key} exclusively, from {@code pg_locks}. */
    boolean exclusiveQueued(LockKey key) throws SQLException {
        return inPgLocks(key, "NOT granted AND mode = 'ExclusiveLock' "
                + "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    }

    /**
     * The second keys of the pair locks {@code (classId, objid)} with objid in {@code [from, to]}
     * granted to any session of this database, from {@code pg_locks}.
     */
    List<Integer> grantedPairs(int classId, int from, int to) throws SQLException {
        PreparedStatement statement = statement("SELECT DISTINCT objid FROM pg_locks WHERE locktype = 'advisory'"
                + " AND classid = ? AND objsubid = 2 AND objid BETWEEN ? AND ? AND granted"
                + " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
        statement.setLong(1, classId & 0xFFFF_FFFFL);
        statement.setLong(2, from & 0xFFFF_FFFFL);
        statement.setLong(3, to & 0xFFFF_FFFFL);
        List<Integer> objIds = new ArrayList<>();
        try (ResultSet rows = statement.executeQuery()) {
            while (rows.next()) {
                objIds.add((int) rows.getLong(1));
            }
        }
        return objIds;
    }

    /** Whether {@code pg_locks} has a row for {@code key} that meets {@code condition}. */
    private boolean inPgLocks(LockKey key, String condition) throws SQLException {
        PreparedStatement statement = statement("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                + " AND classid = ? AND objid = ? AND objsubid = ? AND " + condition + ")");
        statement.setLong(1, key.classId());
        statement.setLong(2, key.objId());
        statement.setInt(3, key.objSubId());
        try (ResultSet rows = statement.executeQuery()) {
            return rows.next() && rows.getBoolean(1);
        }
    }

    /** The one number {@code sql} returns; for a statement that must run on this session. */
    long queryLong(String sql) throws SQLException {
        try (ResultSet rows = statement(sql).executeQuery()) {
            if (!rows.next()) {
                throw new SQLException("No row from " + sql);
            }
            return rows.getLong(1);
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
        String call = functions[mode == LockMode.EXCLUSIVE ? 0 : 1] + (key.isPair() ? "(?, ?)" : "(?)");
        return withTimeout
                ? "SELECT " + call + " FROM (SELECT set_config('lock_timeout', ?, true)) AS lock_timeout"
                : "SELECT " + call;
    }

    /** One row per key, in the order given; {@code s} picks the shared form. */
    private static String batchSql(String function) {
        return "SELECT CASE WHEN s THEN " + function + "_shared(k) ELSE " + function + "(k) END"
                + " FROM unnest(?::bigint[], ?::boolean[]) WITH ORDINALITY AS call(k, s, i) ORDER BY i";
    }

    /** A try or an unlock waiting to be sent; answered under {@link #io}, read by its caller after {@link #done}. */
    private static final class Call {
        final LockKey key;
        final LockMode mode;
        final boolean unlock;
        final Thread caller = Thread.currentThread();
        /** Written last, so that a caller that reads it true sees the answer. */
        volatile boolean done;
        private boolean result;
        private @Nullable SQLException failure;

        Call(LockKey key, LockMode mode, boolean unlock) {
            this.key = key;
            this.mode = mode;
            this.unlock = unlock;
        }

        void succeed(boolean result) {
            this.result = result;
            answered();
        }

        void fail(SQLException failure) {
            this.failure = failure;
            answered();
        }

        private void answered() {
            done = true;
            // the caller that sent its own call is not parked
            if (caller != Thread.currentThread()) {
                LockSupport.unpark(caller);
            }
        }

        boolean outcome() throws SQLException {
            if (!done) {
                throw new IllegalStateException("A lock call was never sent; this is a bug in PALs");
            }
            if (failure != null) {
                throw failure;
            }
            return result;
        }
    }

    @Override
    public String toString() {
        return "session of backend " + backendPid;
    }
}
