package dev.pals.benchmarks;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.Statement;
import java.util.concurrent.atomic.LongAdder;
import javax.sql.DataSource;

/**
 * Counts the statements a library sends through a DataSource: connections and statements are
 * wrapped in proxies that count each {@code execute...} call and delegate everything else.
 */
final class CountingDataSource {

    private final LongAdder statements = new LongAdder();
    private final DataSource counting;

    CountingDataSource(DataSource target) {
        this.counting = proxy(DataSource.class, target, (method, result) -> method.equals("getConnection")
                ? proxy(Connection.class, result, this::wrapStatement) : result);
    }

    DataSource dataSource() {
        return counting;
    }

    long statements() {
        return statements.sum();
    }

    private Object wrapStatement(String method, Object result) {
        if (result instanceof Statement statement) {
            Class<? extends Statement> type = statement instanceof java.sql.PreparedStatement
                    ? java.sql.PreparedStatement.class : Statement.class;
            return proxy(type, statement, (name, value) -> value);
        }
        return result;
    }

    /** What a proxy does with a call's result: returns it as is or wrapped. */
    @FunctionalInterface
    private interface Wrapping {
        Object apply(String method, Object result);
    }

    private <T> T proxy(Class<T> type, Object target, Wrapping wrapping) {
        InvocationHandler handler = (self, method, args) -> {
            if (method.getName().startsWith("execute")) {
                statements.increment();
            }
            try {
                Object result = method.invoke(target, args);
                return result == null ? null : wrapping.apply(method.getName(), result);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler));
    }
}
