package dev.pals;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The sequence fencing tokens come from, for a registry built with
 * {@link LockRegistry.Builder#fencingTokens}: checked (and created, if allowed) once, on the
 * first session that asks for a token, then one {@code nextval} per token. Every statement runs
 * on the session that holds the lock, in autocommit, so that a token is issued only while the
 * lock is held there (a session that died fails the statement instead) and is durable before the
 * caller has it.
 */
final class FencingSequence {

    static final String NEXT = "SELECT nextval('" + FencingTokens.SEQUENCE + "')";
    private static final String INSUFFICIENT_PRIVILEGE = "42501";
    private static final String UNDEFINED_TABLE = "42P01";
    private static final String DUPLICATE_TABLE = "42P07";
    private static final String UNIQUE_VIOLATION = "23505";
    private static final String GRANT = "GRANT USAGE ON SEQUENCE " + FencingTokens.SEQUENCE + " TO <the registry's "
            + "database user>";

    private final FencingTokens setup;
    /** Set once the sequence was found fit; until then each token checks again, so that a fix is picked up. */
    private volatile boolean ready;

    FencingSequence(FencingTokens setup) {
        this.setup = setup;
    }

    /**
     * The next token, on {@code session}'s connection; the caller holds {@link Session#io}.
     *
     * @throws SQLException if the statement failed for another reason than the sequence's set-up
     * @throws LockException if the sequence is missing, unfit or not usable by this user
     */
    long next(Session session, String lockName) throws SQLException {
        if (!ready) {
            prepare(session.connection, lockName);
            ready = true;
        }
        try {
            return session.queryLong(NEXT);
        } catch (SQLException e) {
            if (SqlErrors.is(e, INSUFFICIENT_PRIVILEGE)) {
                throw new LockException("No fencing token for lock '" + lockName + "': this database user may not "
                        + "use the sequence " + FencingTokens.SEQUENCE + " (" + e.getMessage() + "); run: " + GRANT, e);
            }
            if (SqlErrors.is(e, UNDEFINED_TABLE)) {
                // not created again: a new sequence would start below tokens already handed out
                throw new LockException("No fencing token for lock '" + lockName + "': the sequence "
                        + FencingTokens.SEQUENCE + " existed but is gone (dropped, or lost in a crash of a server "
                        + "running with synchronous_commit off). Create it again starting above every token a "
                        + "resource has seen (" + FencingTokens.DDL + " START WITH <greatest token + 1>); "
                        + "restarting it lower would let a stale holder's greater token win", e);
            }
            throw e;
        }
    }

    private void prepare(Connection connection, String lockName) throws SQLException {
        if (fitness(connection, lockName)) {
            return;
        }
        if (setup == FencingTokens.REQUIRE) {
            throw new LockException("No fencing token for lock '" + lockName + "': the sequence "
                    + FencingTokens.SEQUENCE + " does not exist in this database's search_path, and the registry was "
                    + "built with FencingTokens.REQUIRE, so it does not create it. Run: " + FencingTokens.DDL + "; "
                    + GRANT + "; or build the registry with FencingTokens.CREATE");
        }
        try (Statement create = connection.createStatement()) {
            create.execute(FencingTokens.DDL);
        } catch (SQLException e) {
            if (SqlErrors.is(e, INSUFFICIENT_PRIVILEGE)) {
                throw new LockException("No fencing token for lock '" + lockName + "': the sequence "
                        + FencingTokens.SEQUENCE + " does not exist and this database user may not create it ("
                        + e.getMessage() + "). Have it created once: " + FencingTokens.DDL + "; " + GRANT
                        + "; and build the registry with FencingTokens.REQUIRE", e);
            }
            // IF NOT EXISTS does not stop two sessions creating it at once: the loser fails, the sequence exists
            if (!SqlErrors.is(e, DUPLICATE_TABLE) && !SqlErrors.is(e, UNIQUE_VIOLATION)) {
                throw e;
            }
        }
        if (!fitness(connection, lockName)) {
            throw new LockException("No fencing token for lock '" + lockName + "': the sequence "
                    + FencingTokens.SEQUENCE + " was created but is not in this session's search_path");
        }
    }

    /**
     * Whether the sequence exists; throws if it does but would hand out tokens out of order.
     */
    private static boolean fitness(Connection connection, String lockName) throws SQLException {
        try (PreparedStatement check = connection.prepareStatement("SELECT c.relkind, s.seqcache, s.seqcycle, "
                + "s.seqincrement FROM pg_class c LEFT JOIN pg_sequence s ON s.seqrelid = c.oid "
                + "WHERE c.oid = to_regclass(?)")) {
            check.setString(1, FencingTokens.SEQUENCE);
            try (ResultSet row = check.executeQuery()) {
                if (!row.next()) {
                    return false;
                }
                if (!"S".equals(row.getString(1))) {
                    throw unfit(lockName, "it is not a sequence");
                }
                if (row.getLong(2) != 1) {
                    throw unfit(lockName, "it caches " + row.getLong(2) + " values per session, so sessions would "
                            + "hand out tokens out of order (ALTER SEQUENCE " + FencingTokens.SEQUENCE + " CACHE 1)");
                }
                if (row.getBoolean(3)) {
                    throw unfit(lockName, "it cycles, so tokens would start again from the bottom (ALTER SEQUENCE "
                            + FencingTokens.SEQUENCE + " NO CYCLE)");
                }
                if (row.getLong(4) <= 0) {
                    throw unfit(lockName, "it counts down");
                }
                return true;
            }
        }
    }

    private static LockException unfit(String lockName, String why) {
        return new LockException("No fencing token for lock '" + lockName + "': " + FencingTokens.SEQUENCE
                + " is not fit for fencing tokens: " + why);
    }
}
