package dev.pals.stub;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * A statement of a {@link StubConnection}: prepared ({@code sql} given, parameters bound by
 * index) or plain (the SQL given to {@code execute}). {@link Statement#cancel()} reaches the
 * statement only while it runs, as a PostgreSQL cancel request does.
 */
final class StubStatement {

    private final StubConnection connection;
    private final @Nullable String sql;
    private final Map<Integer, Object> parameters = new ConcurrentHashMap<>();
    private volatile boolean closed;
    private volatile boolean running;

    StubStatement(StubConnection connection, @Nullable String sql) {
        this.connection = connection;
        this.sql = sql;
    }

    <T extends Statement> T proxy(Class<T> type) {
        return Jdbc.proxy(type, "stub statement " + (sql == null ? "" : sql), connection.server().refusals,
                this::call);
    }

    private Object call(String method, Object[] args) throws SQLException {
        switch (method) {
            case "close" -> {
                closed = true;
                return null;
            }
            case "isClosed" -> {
                return closed;
            }
            case "cancel" -> {
                if (running) {
                    connection.backend.requestCancel();
                    connection.server().locks.wakeWaiters();
                }
                return null;
            }
            default -> {
                // needs an open statement on an open connection
            }
        }
        if (closed) {
            throw new SQLException("This statement has been closed.");
        }
        connection.requireOpen();
        return switch (method) {
            case "setLong", "setInt", "setString", "setArray", "setBoolean" -> {
                parameters.put((Integer) args[0], args[1]);
                yield null;
            }
            case "executeQuery" -> {
                if (args.length == 0 && sql != null) {
                    yield results(run(sql));
                }
                yield args.length == 1 && sql == null ? results(run((String) args[0])) : Jdbc.UNHANDLED;
            }
            case "execute" -> {
                if (args.length == 1 && sql == null) {
                    run((String) args[0]);
                    yield false;
                }
                yield Jdbc.UNHANDLED;
            }
            default -> Jdbc.UNHANDLED;
        };
    }

    private List<Object[]> run(String statement) throws SQLException {
        List<@Nullable Object> bound = new ArrayList<>();
        for (int i = 1; i <= parameters.size(); i++) {
            bound.add(parameters.get(i));
        }
        // a cancel sent before the statement began is ignored by the server
        connection.backend.clearCancel();
        running = true;
        try {
            return connection.execute(statement, bound);
        } finally {
            running = false;
        }
    }

    private ResultSet results(List<Object[]> rows) {
        return new StubResultSet(rows).proxy(connection.server().refusals);
    }
}
