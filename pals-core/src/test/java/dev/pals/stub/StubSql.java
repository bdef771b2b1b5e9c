package dev.pals.stub;

import dev.pals.stub.Gate.Kind;
import java.sql.Array;
import java.sql.SQLException;
import java.sql.SQLSyntaxErrorException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The statements a lock registry sends, recognized by their exact text, and what PostgreSQL
 * answers to each. A statement not listed here fails with an SQLException naming it: the stub
 * must never answer something it does not understand, so a change of the registry's SQL breaks
 * these tests loudly until the stub learns it.
 */
final class StubSql {

    private static final String APPLY_LEASE = "SELECT current_setting('tcp_keepalives_idle'), "
            + "current_setting('tcp_keepalives_interval'), current_setting('tcp_keepalives_count'), "
            + "current_setting('tcp_user_timeout') FROM (SELECT set_config('tcp_keepalives_idle', ?, false), "
            + "set_config('tcp_keepalives_interval', ?, false), set_config('tcp_keepalives_count', ?, false), "
            + "set_config('tcp_user_timeout', ?, false)) AS applied";
    private static final String CHECK_CLIENT = "SELECT set_config('client_connection_check_interval', ?, false)";
    private static final String IDENTIFY = "SELECT pg_backend_pid(), pg_is_in_recovery()";
    private static final String RESET = "RESET tcp_keepalives_idle; RESET tcp_keepalives_interval; "
            + "RESET tcp_keepalives_count; RESET tcp_user_timeout; RESET client_connection_check_interval";
    private static final String UNLOCK_ALL = "SELECT pg_advisory_unlock_all()";
    private static final String PING = "SELECT 1";
    private static final String PG_LOCKS = "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
            + "AND classid = ? AND objid = ? AND objsubid = ? AND ";
    private static final String HELD_BY_ME = PG_LOCKS + "pid = pg_backend_pid() AND granted)";
    private static final String EXCLUSIVE_QUEUED = PG_LOCKS + "NOT granted AND mode = 'ExclusiveLock' "
            + "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))";
    private static final Pattern TRY_OR_UNLOCK = Pattern.compile(
            "SELECT (pg_try_advisory_lock|pg_advisory_unlock)(_shared)?\\((\\?|\\?, \\?)\\)");
    private static final Pattern WAIT = Pattern.compile("SELECT pg_advisory_lock(_shared)?\\((\\?|\\?, \\?)\\) "
            + "FROM \\(SELECT set_config\\('lock_timeout', \\?, true\\)\\) AS lock_timeout");
    private static final String BATCH = "SELECT CASE WHEN u THEN CASE WHEN s THEN pg_advisory_unlock_shared(k) "
            + "ELSE pg_advisory_unlock(k) END ELSE CASE WHEN s THEN pg_try_advisory_lock_shared(k) "
            + "ELSE pg_try_advisory_lock(k) END END FROM unnest(?::bigint[], ?::boolean[], ?::boolean[]) "
            + "WITH ORDINALITY AS call(k, s, u, i) ORDER BY i";
    /** The batch that also wakes waiters (ReleaseWakeups): the stub has no notifications, so it just locks and unlocks. */
    private static final Pattern WAKING_BATCH = Pattern.compile("SELECT CASE WHEN u THEN .*pg_notify.* FROM unnest\\(\\?::bigint\\[\\], "
            + "\\?::boolean\\[\\], \\?::boolean\\[\\], \\?::bigint\\[\\]\\) WITH ORDINALITY .* ORDER BY i");
    /** The lone unlock that also wakes waiters, and may read the wait flag: it just unlocks. */
    private static final Pattern WAKING_UNLOCK = Pattern.compile("SELECT CASE WHEN NOT "
            + "pg_advisory_unlock(_shared)?\\((\\?|\\?, \\?)\\) THEN false .*pg_notify.*");

    private StubSql() {
    }

    /** What a statement does once it passed its gate: the rows it answers. */
    @FunctionalInterface
    interface Body {
        List<Object[]> run(StubServer server, StubBackend backend) throws SQLException;
    }

    /** A recognized statement: its kind and keys, for gates, and its body. */
    record Statement(Kind kind, List<StubKey> keys, Body body) {
        List<Object[]> run(StubServer server, StubBackend backend) throws SQLException {
            return body.run(server, backend);
        }
    }

    static Statement parse(String sql, List<@Nullable Object> parameters) throws SQLException {
        switch (sql) {
            case APPLY_LEASE -> {
                // set_config then current_setting: the server shows what it was given
                Object[] row = {text(parameters, 0), text(parameters, 1), text(parameters, 2), text(parameters, 3)};
                return setup(row);
            }
            case CHECK_CLIENT -> {
                return setup(new Object[] {text(parameters, 0)});
            }
            case IDENTIFY -> {
                return new Statement(Kind.SETUP, List.of(),
                        (server, backend) -> rows(new Object[] {backend.pid, false}));
            }
            case RESET -> {
                return new Statement(Kind.SETUP, List.of(), (server, backend) -> List.of());
            }
            case UNLOCK_ALL -> {
                return new Statement(Kind.UNLOCK_ALL, List.of(), (server, backend) -> {
                    server.locks.unlockAll(backend.pid);
                    return rows(new Object[] {null});
                });
            }
            case PING -> {
                return new Statement(Kind.PING, List.of(), (server, backend) -> rows(new Object[] {1}));
            }
            case HELD_BY_ME, EXCLUSIVE_QUEUED -> {
                StubKey key = new StubKey(number(parameters, 0), number(parameters, 1), (int) number(parameters, 2));
                boolean mine = sql.equals(HELD_BY_ME);
                return new Statement(Kind.PG_LOCKS, List.of(key), (server, backend) -> rows(new Object[] {
                    mine ? server.locks.holds(backend.pid, key) : server.locks.exclusiveWaiting(key)}));
            }
            default -> {
                return lockFunction(sql, parameters);
            }
        }
    }

    private static Statement lockFunction(String sql, List<@Nullable Object> parameters) throws SQLException {
        Matcher single = TRY_OR_UNLOCK.matcher(sql);
        if (single.matches()) {
            StubKey key = key(parameters, single.group(3).length() > 1);
            boolean unlock = single.group(1).equals("pg_advisory_unlock");
            boolean exclusive = single.group(2) == null;
            return new Statement(unlock ? Kind.UNLOCK : Kind.TRY, List.of(key),
                    (server, backend) -> rows(new Object[] {call(server, backend, unlock, key, exclusive)}));
        }
        Matcher wait = WAIT.matcher(sql);
        if (wait.matches()) {
            boolean pair = wait.group(2).length() > 1;
            StubKey key = key(parameters, pair);
            long timeoutMillis = Long.parseLong(text(parameters, pair ? 2 : 1));
            boolean exclusive = wait.group(1) == null;
            return new Statement(Kind.WAIT, List.of(key), (server, backend) -> {
                server.locks.lock(backend, key, exclusive, timeoutMillis);
                return rows(new Object[] {null});
            });
        }
        Matcher waking = WAKING_UNLOCK.matcher(sql);
        if (waking.matches()) {
            StubKey key = key(parameters, waking.group(2).length() > 1);
            boolean exclusive = waking.group(1) == null;
            // the stub has no other registries' wait flags to hold: it reads free
            boolean readsFlag = sql.endsWith(", pg_try_advisory_xact_lock(?::bigint)");
            return new Statement(Kind.UNLOCK, List.of(key), (server, backend) -> {
                boolean unlocked = call(server, backend, true, key, exclusive);
                return rows(readsFlag ? new Object[] {unlocked, true} : new Object[] {unlocked});
            });
        }
        if (sql.equals(BATCH) || WAKING_BATCH.matcher(sql).matches()) {
            Object[] keys = elements(parameters, 0);
            Object[] shared = elements(parameters, 1);
            Object[] unlocks = elements(parameters, 2);
            List<StubKey> stubKeys = new ArrayList<>();
            boolean anyTry = false;
            for (int i = 0; i < keys.length; i++) {
                stubKeys.add(StubKey.bigint((Long) keys[i]));
                anyTry |= !(Boolean) unlocks[i];
            }
            // a batch with a try in it counts as a try, as gates on tries are what tests hold
            return new Statement(anyTry ? Kind.TRY : Kind.UNLOCK, List.copyOf(stubKeys), (server, backend) -> {
                List<Object[]> rows = new ArrayList<>();
                for (int i = 0; i < keys.length; i++) {
                    rows.add(new Object[] {call(server, backend, (Boolean) unlocks[i], stubKeys.get(i),
                        !(Boolean) shared[i])});
                }
                return rows;
            });
        }
        throw new SQLSyntaxErrorException("The JDBC stub does not know this statement: " + sql, "42601");
    }

    private static boolean call(StubServer server, StubBackend backend, boolean unlock, StubKey key, boolean exclusive) {
        return unlock ? server.locks.unlock(backend.pid, key, exclusive)
                : server.locks.tryLock(backend, key, exclusive);
    }

    private static Statement setup(Object[] row) {
        return new Statement(Kind.SETUP, List.of(), (server, backend) -> rows(row));
    }

    private static List<Object[]> rows(Object[] row) {
        List<Object[]> rows = new ArrayList<>();
        rows.add(row);
        return rows;
    }

    /** A bigint key, bound with setLong, or an (int, int) pair, bound with two setInt. */
    private static StubKey key(List<@Nullable Object> parameters, boolean pair) throws SQLException {
        if (pair) {
            return StubKey.pair(integer(parameters, 0), integer(parameters, 1));
        }
        if (parameter(parameters, 0) instanceof Long key) {
            return StubKey.bigint(key);
        }
        throw new SQLException("The JDBC stub expected a bigint key bound with setLong, got " + parameters);
    }

    private static Object parameter(List<@Nullable Object> parameters, int index) throws SQLException {
        Object value = index < parameters.size() ? parameters.get(index) : null;
        if (value == null) {
            throw new SQLException("No value bound for parameter " + (index + 1), "07002");
        }
        return value;
    }

    private static String text(List<@Nullable Object> parameters, int index) throws SQLException {
        return parameter(parameters, index).toString();
    }

    private static int integer(List<@Nullable Object> parameters, int index) throws SQLException {
        if (parameter(parameters, index) instanceof Integer value) {
            return value;
        }
        throw new SQLException("The JDBC stub expected an int bound with setInt at " + (index + 1));
    }

    private static long number(List<@Nullable Object> parameters, int index) throws SQLException {
        return ((Number) parameter(parameters, index)).longValue();
    }

    private static Object[] elements(List<@Nullable Object> parameters, int index) throws SQLException {
        return (Object[]) ((Array) parameter(parameters, index)).getArray();
    }
}
