package dev.pals.stub;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;

/** The rows a stub statement answered, read forward by column index, as the registry reads them. */
final class StubResultSet {

    private final List<Object[]> rows;
    private int row = -1;
    private boolean closed;

    StubResultSet(List<Object[]> rows) {
        this.rows = rows;
    }

    ResultSet proxy(List<String> refusals) {
        return Jdbc.proxy(ResultSet.class, "stub result set", refusals, this::call);
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
            default -> {
                // reads an open result set
            }
        }
        if (closed) {
            throw new SQLException("This ResultSet is closed.");
        }
        return switch (method) {
            case "next" -> ++row < rows.size();
            case "getBoolean" -> (Boolean) column(args);
            case "getInt" -> ((Number) column(args)).intValue();
            case "getLong" -> ((Number) column(args)).longValue();
            case "getString" -> column(args).toString();
            default -> Jdbc.UNHANDLED;
        };
    }

    private Object column(Object[] args) throws SQLException {
        if (!(args[0] instanceof Integer index)) {
            throw new SQLException("The stub result set reads columns by index only, not " + args[0]);
        }
        if (row < 0 || row >= rows.size()) {
            throw new SQLException("The stub result set is not on a row");
        }
        Object value = rows.get(row)[index - 1];
        if (value == null) {
            throw new SQLException("The stub answers no value in column " + index);
        }
        return value;
    }
}
