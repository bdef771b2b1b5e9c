package dev.pals.stub;

import java.sql.Array;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One connection of the {@link StubServer}, with a session ({@link StubBackend}) of its own, as
 * PgJDBC's connection to PostgreSQL directly: closing or aborting it ends the session, which frees
 * its locks; once the session ended, every statement fails as on a closed connection.
 */
final class StubConnection {

    private final StubServer server;
    final StubBackend backend;
    private volatile boolean autoCommit = true;
    private volatile int networkTimeoutMillis;

    StubConnection(StubServer server, StubBackend backend) {
        this.server = server;
        this.backend = backend;
    }

    Connection proxy() {
        return Jdbc.proxy(Connection.class, "stub connection of backend " + backend.pid, server.refusals, this::call);
    }

    private Object call(String method, Object[] args) throws SQLException {
        switch (method) {
            case "isClosed" -> {
                return backend.isTerminated();
            }
            case "close", "abort" -> {
                server.end(backend);
                return null;
            }
            case "isWrapperFor" -> {
                return false;
            }
            case "unwrap" -> {
                // PgJDBC's own interfaces are not emulated: a caller falls back to plain JDBC
                throw new SQLException("The stub connection wraps no " + args[0]);
            }
            default -> {
                // needs an open connection
            }
        }
        requireOpen();
        return switch (method) {
            case "getMetaData" -> metaData();
            case "getAutoCommit" -> autoCommit;
            case "setAutoCommit" -> {
                autoCommit = (Boolean) args[0];
                yield null;
            }
            case "rollback", "commit" -> {
                if (args.length > 0 || autoCommit) {
                    throw new SQLException("The stub emulates " + method + "() only outside autocommit");
                }
                yield null;
            }
            case "getNetworkTimeout" -> networkTimeoutMillis;
            case "setNetworkTimeout" -> {
                // kept, not enforced: a statement held at a gate waits for the test, bounded by the gate
                networkTimeoutMillis = (Integer) args[1];
                yield null;
            }
            case "prepareStatement" -> args.length == 1 ? statement(PreparedStatement.class, (String) args[0])
                    : Jdbc.UNHANDLED;
            case "createStatement" -> args.length == 0 ? statement(Statement.class, null) : Jdbc.UNHANDLED;
            case "createArrayOf" -> array((String) args[0], (Object[]) args[1]);
            default -> Jdbc.UNHANDLED;
        };
    }

    StubServer server() {
        return server;
    }

    void requireOpen() throws SQLException {
        if (backend.isTerminated()) {
            throw new SQLException("This connection has been closed.", "08003");
        }
    }

    List<Object[]> execute(String sql, List<@Nullable Object> parameters) throws SQLException {
        requireOpen();
        return server.execute(backend, sql, parameters);
    }

    private <T extends Statement> T statement(Class<T> type, @Nullable String sql) {
        return new StubStatement(this, sql).proxy(type);
    }

    private DatabaseMetaData metaData() {
        return Jdbc.proxy(DatabaseMetaData.class, "stub metadata", server.refusals, (method, args) -> switch (method) {
            case "getDatabaseProductName" -> "PostgreSQL";
            case "getDatabaseMajorVersion" -> 16;
            default -> Jdbc.UNHANDLED;
        });
    }

    private Array array(String type, Object[] elements) {
        Object[] copy = elements.clone();
        return Jdbc.proxy(Array.class, "stub " + type + "[]", server.refusals, (method, args) -> switch (method) {
            case "getArray" -> args.length == 0 ? copy : Jdbc.UNHANDLED;
            case "getBaseTypeName" -> type;
            case "free" -> null;
            default -> Jdbc.UNHANDLED;
        });
    }
}
