package dev.pals.stub;

import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.SQLFeatureNotSupportedException;
import java.util.List;

/**
 * JDBC interfaces implemented by {@link Proxy}: a stub answers the few methods the registry calls
 * and every other one fails loudly, so that the stub never answers what it does not emulate.
 */
final class Jdbc {

    /** What a handler returns for a method it does not emulate. */
    static final Object UNHANDLED = new Object();

    @FunctionalInterface
    interface Handler {
        /** Answers {@code method}, or returns {@link #UNHANDLED}; exceptions reach the caller as thrown. */
        Object call(String method, Object[] args) throws Exception;
    }

    private Jdbc() {
    }

    /**
     * @param refusals where each refused call is noted as well: the registry swallows some
     *     failures (a connection that cannot be reset is aborted), and tests must still see them
     */
    static <T> T proxy(Class<T> type, String description, List<String> refusals, Handler handler) {
        Object proxy = Proxy.newProxyInstance(Jdbc.class.getClassLoader(), new Class<?>[] {type},
                (self, method, args) -> invoke(type, description, refusals, handler, self, method,
                        args == null ? new Object[0] : args));
        return type.cast(proxy);
    }

    private static Object invoke(Class<?> type, String description, List<String> refusals, Handler handler,
            Object self, Method method, Object[] args) throws Exception {
        switch (method.getName()) {
            case "toString" -> {
                if (args.length == 0) {
                    return description;
                }
            }
            case "hashCode" -> {
                if (args.length == 0) {
                    return System.identityHashCode(self);
                }
            }
            case "equals" -> {
                if (args.length == 1) {
                    return self == args[0];
                }
            }
            default -> {
                // a JDBC method: the handler's
            }
        }
        Object answer = handler.call(method.getName(), args);
        if (answer == UNHANDLED) {
            String refusal = "The JDBC stub does not emulate " + type.getSimpleName() + "." + method.getName()
                    + " (" + description + ")";
            refusals.add(refusal);
            throw new SQLFeatureNotSupportedException(refusal);
        }
        return answer;
    }
}
