package dev.pals.stub;

import dev.pals.LockKey;
import dev.pals.stub.Gate.Kind;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * A PostgreSQL server in memory, as far as a lock registry talks to one: a {@link DataSource}
 * whose every connection is a session of its own, with the server's advisory lock table
 * ({@link AdvisoryLocks}), the statements the registry sends ({@link StubSql}), and
 * {@link Gate}s that hold or fail a chosen statement. What it cannot tell apart from the real
 * server is only what the registry sends; anything else fails loudly.
 */
public final class StubServer {

    /** What a broken connection reports: PgJDBC's "An I/O error occurred while sending to the backend". */
    public static final String CONNECTION_FAILURE = "08006";

    private final AtomicInteger nextPid = new AtomicInteger(40_000);
    final AdvisoryLocks locks = new AdvisoryLocks();
    private final List<Executed> executed = new CopyOnWriteArrayList<>();
    private final ReentrantLock gatesLock = new ReentrantLock();
    /** Gates not yet reached, in the order armed. Guarded by {@link #gatesLock}. */
    private final List<Gate> armed = new ArrayList<>();
    private final List<Gate> all = new CopyOnWriteArrayList<>();
    /** Statements and JDBC calls the stub refused, for tests to assert that there were none. */
    final List<String> refusals = new CopyOnWriteArrayList<>();
    private final DataSource dataSource = Jdbc.proxy(DataSource.class, "StubServer's DataSource", refusals,
            (method, args) -> {
                if (method.equals("getConnection") && args.length == 0) {
                    return connect();
                }
                return Jdbc.UNHANDLED;
            });

    /** A statement that reached the server, for tests to count round trips. */
    record Executed(int pid, Kind kind, List<StubKey> keys) {
    }

    public DataSource dataSource() {
        return dataSource;
    }

    /** Holds the next statement of {@code kind} on {@code key} (a batch naming it included) at a gate. */
    public Gate gate(Kind kind, LockKey key) {
        return arm(new Gate(kind, StubKey.of(key)));
    }

    /** Holds the next statement of {@code kind}, on whatever key, at a gate. */
    public Gate gate(Kind kind) {
        return arm(new Gate(kind, null));
    }

    /** Fails the next statement of {@code kind} on {@code key} with {@code sqlState}, without holding it. */
    public Gate failNext(Kind kind, LockKey key, String sqlState) {
        Gate gate = gate(kind, key);
        gate.fail(sqlState);
        return gate;
    }

    /** Fails the next statement of {@code kind} with {@code sqlState}, without holding it. */
    public Gate failNext(Kind kind, String sqlState) {
        Gate gate = gate(kind);
        gate.fail(sqlState);
        return gate;
    }

    /** Statements of {@code kind} naming {@code key} that reached the server, failed ones included. */
    public long statements(Kind kind, LockKey key) {
        StubKey wanted = StubKey.of(key);
        return executed.stream().filter(each -> each.kind == kind && each.keys.contains(wanted)).count();
    }

    /** The backend pids holding {@code key} in any mode. */
    public Set<Integer> holders(LockKey key) {
        return locks.holders(StubKey.of(key));
    }

    /** Every key held by some backend. */
    public Set<StubKey> heldKeys() {
        return locks.heldKeys();
    }

    /** Backends waiting for {@code key} in {@code pg_advisory_lock}, in any mode. */
    public int waiting(LockKey key) {
        return locks.waiting(StubKey.of(key), false);
    }

    /**
     * Every statement and JDBC call refused as unknown, even those whose failure the registry
     * swallowed: a test that ends with any has tested against a server that is not PostgreSQL.
     */
    public List<String> refusals() {
        return List.copyOf(refusals);
    }

    private Object connect() {
        StubBackend backend = new StubBackend(nextPid.incrementAndGet());
        return new StubConnection(this, backend).proxy();
    }

    /**
     * Runs one statement for {@code backend}: through the first gate armed for it, if any, then
     * against the lock table.
     */
    List<Object[]> execute(StubBackend backend, String sql, List<@Nullable Object> parameters) throws SQLException {
        StubSql.Statement statement;
        try {
            statement = StubSql.parse(sql, parameters);
        } catch (SQLException e) {
            refusals.add(e.getMessage());
            throw e;
        }
        executed.add(new Executed(backend.pid, statement.kind(), statement.keys()));
        Gate gate = take(statement.kind(), statement.keys());
        Optional<String> failure = gate == null ? Optional.empty() : gate.pass(backend);
        if (failure.isPresent()) {
            throw failure(backend, failure.get(), statement.kind());
        }
        if (backend.isTerminated()) {
            throw new SQLException("An I/O error occurred while sending to the backend.", CONNECTION_FAILURE);
        }
        return statement.run(this, backend);
    }

    private SQLException failure(StubBackend backend, String sqlState, Kind kind) {
        if (endsSession(sqlState)) {
            end(backend);
        }
        return new SQLException("The stub failed this " + kind + " statement of backend " + backend.pid
                + " with SQLSTATE " + sqlState, sqlState);
    }

    private static boolean endsSession(String sqlState) {
        return sqlState.startsWith("08") || sqlState.matches("57P0[123]");
    }

    /** The session ends, as its connection closes or breaks: its locks go, and a statement it had at a gate fails. */
    void end(StubBackend backend) {
        if (!backend.terminate()) {
            return;
        }
        locks.unlockAll(backend.pid);
        locks.wakeWaiters();
        all.forEach(gate -> gate.ended(backend));
    }

    private Gate arm(Gate gate) {
        gatesLock.lock();
        try {
            armed.add(gate);
        } finally {
            gatesLock.unlock();
        }
        all.add(gate);
        return gate;
    }

    private @Nullable Gate take(Kind kind, List<StubKey> keys) {
        gatesLock.lock();
        try {
            for (Gate gate : armed) {
                if (gate.matches(kind, keys)) {
                    armed.remove(gate);
                    return gate;
                }
            }
            return null;
        } finally {
            gatesLock.unlock();
        }
    }
}
