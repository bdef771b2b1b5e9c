package dev.pals;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
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
    /** One unlock of a batch, on key {@code k} in shared form if {@code s}: extend it here to do more on each unlock. */
    private static final String UNLOCK_CALL = "CASE WHEN s THEN pg_advisory_unlock_shared(k) ELSE pg_advisory_unlock(k) END";
    private static final String TRY_CALL = "CASE WHEN s THEN pg_try_advisory_lock_shared(k) ELSE pg_try_advisory_lock(k) END";
    /**
     * Tries and unlocks in one statement, one row per call in the order given ({@code u} picks an
     * unlock): volatile functions under ORDER BY are evaluated in the sorted order, so a batch that
     * lists its tries first has run no unlock when a try fails.
     */
    private static final String BATCH = "SELECT CASE WHEN u THEN " + wakingUnlock(UNLOCK_CALL, "m", "k") + " ELSE "
            + TRY_CALL + " END FROM unnest(?::bigint[], ?::boolean[], ?::boolean[], ?::bigint[])"
            + " WITH ORDINALITY AS call(k, s, u, m, i) ORDER BY i";
    /**
     * {@link #BATCH} without waking anyone: while the wait flag was lately read free
     * ({@link WaitFlag}), and to undo what a failed statement may have done (a full lock table, which
     * may be why it failed, has no slot for the marker check). Only lone unlocks read the flag, so a
     * registry busy enough to batch every call keeps checking markers.
     */
    private static final String PLAIN_BATCH = "SELECT CASE WHEN u THEN " + UNLOCK_CALL + " ELSE " + TRY_CALL + " END"
            + " FROM unnest(?::bigint[], ?::boolean[], ?::boolean[]) WITH ORDINALITY AS call(k, s, u, i) ORDER BY i";
    /** The statements of a lone call, by unlock, then shared, then pair key: built once, not per call. */
    private static final String[][][] SINGLE = {
        {{sql(TRY, false, false), sql(TRY, false, true)}, {sql(TRY, true, false), sql(TRY, true, true)}},
        {{sql(UNLOCK, false, false), sql(UNLOCK, false, true)}, {sql(UNLOCK, true, false), sql(UNLOCK, true, true)}}
    };
    /** A lone unlock that wakes waiters, by shared, then pair key ({@link #unlockWaking}). */
    private static final String[][] SINGLE_WAKING = {
        {singleWaking(false, false, false), singleWaking(false, true, false)},
        {singleWaking(true, false, false), singleWaking(true, true, false)}
    };
    /** {@link #SINGLE_WAKING} that also reads the wait flag ({@link WaitFlag}). */
    private static final String[][] SINGLE_WAKING_FLAG = {
        {singleWaking(false, false, true), singleWaking(false, true, true)},
        {singleWaking(true, false, true), singleWaking(true, true, true)}
    };

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
     * Guarded by the pool's lock: a loss check is queued or running on it. Not counted in
     * {@link #users}, so that a check never makes the pool open a connection.
     */
    boolean checking;
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

    /** The registry's last reading of the wait flag, shared by its sessions: whether unlocks check markers. */
    private final WaitFlag flag;

    Session(Connection connection, int backendPid, int originalNetworkTimeoutMillis, WaitFlag flag) {
        this.flag = flag;
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
     * Sends {@code call} and returns its answer. A call that finds nothing queued and the connection
     * free goes alone, as every call does when one thread at a time uses the registry. Otherwise it
     * is queued, and whichever caller takes {@link #io} sends every call queued by then, tries and
     * unlocks together in one statement, and wakes their callers with their answers: many threads
     * sharing few connections pay one round trip per batch instead of one each, and a caller
     * answered by another's batch never needs {@link #io} itself. A batch never holds two calls for
     * one key: a registry has at most one server call in flight per key.
     */
    private boolean submit(Call call, boolean interruptible) throws SQLException, InterruptedException {
        if (interruptible && Thread.interrupted()) {
            throw new InterruptedException("Interrupted before the lock call was sent");
        }
        boolean interrupted = false;
        if (queued.isEmpty() && io.tryLock()) {
            // kept aside, as below: an interrupt during socket I/O on a virtual thread closes the connection
            interrupted = Thread.interrupted();
            try {
                if (queued.isEmpty()) {
                    runAlone(call);
                } else {
                    queued.add(call);
                    runQueued();
                }
            } finally {
                releaseIo();
            }
        } else {
            queued.add(call);
        }
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

    /** Called with {@link #io} held and nothing queued: sends {@code call} by itself and answers it, whatever fails. */
    private void runAlone(Call call) {
        try {
            run(List.of(call));
        } finally {
            call.failIfUnanswered();
        }
    }

    /** Called with {@link #io} held: answers every queued call, whatever fails. */
    private void runQueued() {
        List<Call> taken = new ArrayList<>();
        try {
            List<Call> batch = new ArrayList<>();
            int tries = 0;
            for (Call call = queued.poll(); call != null; call = queued.poll()) {
                taken.add(call);
                if (call.key.isPair()) {
                    run(List.of(call));
                } else if (call.unlock) {
                    batch.add(call);
                } else {
                    // tries first: see BATCH
                    batch.add(tries++, call);
                }
            }
            run(batch);
        } finally {
            taken.forEach(Call::failIfUnanswered);
        }
    }

    /**
     * Tries and unlocks, tries first, in one statement. On any failure, JVM errors included, each try
     * gets it (they reach their callers as exceptions, so a lock is never left held for want of an
     * owner) after what it may have taken is undone; the unlocks are answered as {@link #recover}
     * says.
     */
    private void run(List<Call> calls) {
        if (calls.isEmpty()) {
            return;
        }
        Call first = calls.get(0);
        try {
            long sentAt = System.nanoTime();
            WaitFlag.Check check = flag.check(sentAt);
            if (calls.size() == 1) {
                first.succeed(first.unlock ? unlockWaking(first, check, sentAt)
                        : queryBoolean(single(false, first), first.key));
            } else {
                boolean[] results = batch(calls, false, check != WaitFlag.Check.NONE);
                for (int i = 0; i < calls.size(); i++) {
                    calls.get(i).succeed(results[i]);
                }
            }
        } catch (SQLException | RuntimeException | Error e) {
            SQLException failure = e instanceof SQLException sql ? sql
                    : new SQLException("A lock statement failed in the JVM: " + e, e);
            recover(calls, failure, failure == e);
        }
    }

    /**
     * Answers the calls of a failed statement. Session locks outlive the statement, so its tries may
     * have taken some locks, and nobody will own them: each try's key is unlocked once, which frees
     * exactly what the try took, as the registry did not hold it before. A lone try that failed in
     * the server took nothing. When a try failed in the server, the statement stopped there, before
     * any unlock (tries come first): the same unlocking statement then does the unlocks. Any other
     * server error that left the session alive may have come after unlocks that took effect (a full
     * lock table, 53200, at the marker check of {@link #wakingUnlock}; too many notifications, 54000,
     * at commit; a cancel): the unlocks are then redone without the check and all answered
     * released, as the registry held their keys. Otherwise (a failure in the JVM, or a lost
     * connection) the unlocks fail too, and their callers drop the session. If the undoing statement fails, the session is ended,
     * which frees everything; its callers then find it lost.
     */
    private void recover(List<Call> calls, SQLException failure, boolean inServer) {
        List<Call> tries = calls.stream().filter(call -> !call.unlock).toList();
        // the session survived: an unlock that had taken effect before the failure (a full lock table at
        // the marker check, too many notifications at commit, a cancel) must not read as a lost lock
        boolean sessionKept = inServer && !SqlErrors.isSessionLost(failure, connection);
        boolean redoUnlocks = inServer && (!tries.isEmpty() || sessionKept);
        List<Call> undo = redoUnlocks ? calls : tries;
        boolean loneTry = inServer && calls.size() == 1 && !calls.get(0).unlock;
        boolean[] unlocked = null;
        if (!undo.isEmpty() && !loneTry) {
            try {
                unlocked = unlockEach(undo);
            } catch (SQLException | RuntimeException | Error e) {
                failure.addSuppressed(e);
                try {
                    connection.abort(Runnable::run);
                } catch (SQLException | RuntimeException | Error abortFailure) {
                    failure.addSuppressed(abortFailure);
                }
            }
        }
        for (int i = 0; i < calls.size(); i++) {
            Call call = calls.get(i);
            if (call.unlock && redoUnlocks && unlocked != null) {
                call.succeed(unlocked[i] || sessionKept);
            } else {
                call.fail(failure);
            }
        }
    }

    /**
     * Unlocks the key of each call once, in its mode, waking nobody; a lone call by its own
     * statement, as its key may be a pair.
     */
    private boolean[] unlockEach(List<Call> calls) throws SQLException {
        if (calls.size() > 1) {
            return batch(calls, true, false);
        }
        Call call = calls.get(0);
        return new boolean[] {queryBoolean(single(true, call), call.key)};
    }

    /**
     * {@link #BATCH} for {@code calls} if {@code waking}, else {@link #PLAIN_BATCH}, with every call an
     * unlock if {@code unlockAll}; one answer per call, in order.
     */
    private boolean[] batch(List<Call> calls, boolean unlockAll, boolean waking) throws SQLException {
        Long[] keys = new Long[calls.size()];
        Boolean[] shared = new Boolean[calls.size()];
        Boolean[] unlock = new Boolean[calls.size()];
        for (int i = 0; i < keys.length; i++) {
            Call call = calls.get(i);
            keys[i] = call.key.value();
            shared[i] = call.mode == LockMode.SHARED;
            unlock[i] = unlockAll || call.unlock;
        }
        PreparedStatement statement = statement(waking ? BATCH : PLAIN_BATCH);
        statement.setArray(1, connection.createArrayOf("bigint", keys));
        statement.setArray(2, connection.createArrayOf("boolean", shared));
        statement.setArray(3, connection.createArrayOf("boolean", unlock));
        if (waking) {
            // the plain statements check no marker, so only a waking one pays for mixing them
            @Nullable Long[] markers = new Long[calls.size()];
            for (int i = 0; i < markers.length; i++) {
                Call call = calls.get(i);
                markers[i] = call.unlock ? ReleaseWakeups.marker(call.key) : null;
            }
            statement.setArray(4, connection.createArrayOf("bigint", markers));
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
     * A lone unlock that, in the same statement, wakes this library's waiters of the key if any left a
     * marker ({@link ReleaseWakeups}), as {@code check} says, and reads the wait flag if it says so.
     */
    private boolean unlockWaking(Call call, WaitFlag.Check check, long sentAt) throws SQLException {
        if (check == WaitFlag.Check.NONE) {
            return queryBoolean(single(true, call), call.key);
        }
        boolean readFlag = check == WaitFlag.Check.MARKERS_AND_FLAG;
        PreparedStatement statement = statement((readFlag ? SINGLE_WAKING_FLAG : SINGLE_WAKING)
                [call.mode == LockMode.SHARED ? 1 : 0][call.key.isPair() ? 1 : 0]);
        int next = call.key.bind(statement, 1);
        statement.setLong(next, ReleaseWakeups.marker(call.key));
        statement.setLong(next + 1, call.key.value());
        if (readFlag) {
            statement.setLong(next + 2, ReleaseWakeups.FLAG);
        }
        try (ResultSet rows = statement.executeQuery()) {
            if (!rows.next()) {
                return false;
            }
            if (readFlag) {
                flag.read(rows.getBoolean(2), sentAt);
            }
            return rows.getBoolean(1);
        }
    }

    /** Trying the flag exclusively for the statement's own transaction succeeds when no registry holds it. */
    private static String singleWaking(boolean shared, boolean pair, boolean readFlag) {
        return "SELECT " + wakingUnlock(call(UNLOCK, shared, pair), "?::bigint", "?::bigint")
                + (readFlag ? ", pg_try_advisory_xact_lock(?::bigint)" : "");
    }

    /**
     * An unlock that notifies only if it unlocked and the {@code marker} is taken: trying it
     * exclusively for the statement's own transaction fails then, and costs no notification, nor its
     * commit lock, when nobody waits. A CASE evaluates its conditions in order, so the marker is
     * tried only after the unlock, and the notification goes out at the statement's commit: a waiter
     * it wakes finds the key free. One expression, with no subquery, as it is on every release's path.
     */
    private static String wakingUnlock(String unlock, String marker, String key) {
        return "CASE WHEN NOT " + unlock + " THEN false WHEN pg_try_advisory_xact_lock(" + marker + ") THEN true"
                + " WHEN pg_notify('" + ReleaseWakeups.CHANNEL + "', " + key + "::text) IS NULL THEN true ELSE true END";
    }

    /**
     * A new statement for one server-side wait, for the caller to close: {@code lock_timeout} is
     * set local to the statement's own implicit transaction, so it cannot leak into later
     * statements of the session. Not cached, so that a late cancel meant for this wait can never
     * reach another one.
     */
    PreparedStatement waitStatement(LockKey key, LockMode mode, String lockTimeoutMillis) throws SQLException {
        PreparedStatement statement = connection.prepareStatement(
                "SELECT " + call(WAIT, mode == LockMode.SHARED, key.isPair())
                        + " FROM (SELECT set_config('lock_timeout', ?, true)) AS lock_timeout");
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

    private static String single(boolean unlock, Call call) {
        return SINGLE[unlock ? 1 : 0][call.mode == LockMode.SHARED ? 1 : 0][call.key.isPair() ? 1 : 0];
    }

    private static String sql(String[] functions, boolean shared, boolean pair) {
        return "SELECT " + call(functions, shared, pair);
    }

    private static String call(String[] functions, boolean shared, boolean pair) {
        return functions[shared ? 1 : 0] + (pair ? "(?, ?)" : "(?)");
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

        /** Never expected: a call taken to be sent must reach its caller, as a failure if nothing else. */
        void failIfUnanswered() {
            if (!done) {
                fail(new SQLException("A lock call was taken to be sent but never answered"));
            }
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
