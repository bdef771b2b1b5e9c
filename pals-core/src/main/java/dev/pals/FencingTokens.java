package dev.pals;

/**
 * Whether a registry hands out fencing tokens ({@link AdvisoryLock#fencingToken()}), and who
 * creates the one database object they need: the sequence {@value #SEQUENCE}, shared by every
 * lock, registry and namespace of the database. Set with {@link LockRegistry.Builder#fencingTokens}.
 *
 * <p>A token is a number that is greater for every later acquisition of a lock, across every
 * instance of the cluster, restarts of either side, a crash of the server with
 * {@code synchronous_commit} on (the default; off, a crash may lose the last tokens), and a
 * failover to a standby that had every commit (synchronous replication; an asynchronous standby
 * may have missed the last tokens). A
 * resource outside PostgreSQL remembers the highest token it saw and refuses writes that carry a
 * lower one, which refuses a holder that lost its lock (a pause, a split) and kept going after
 * another took it. The tokens come from one sequence, not one counter per lock: a sequence is not
 * rolled back, and tokens of one lock only need to grow, not to be consecutive.
 *
 * <p>The sequence, for a migration when the registry may not create it, with the grant its user
 * then needs:
 *
 * <pre>{@code
 * CREATE SEQUENCE IF NOT EXISTS pals_fencing_tokens CACHE 1 NO CYCLE;
 * GRANT USAGE ON SEQUENCE pals_fencing_tokens TO app_user;
 * }</pre>
 *
 * <p>Session locks only: a {@link TransactionLock} has none. Its writes to the same database
 * commit or roll back with the lock and need no token, and a token issued inside the caller's
 * transaction would be durable only once it commits, too late for a resource already sent it.
 *
 * <p>It must keep {@code CACHE 1} (a session cache would hand out numbers out of order across
 * sessions) and {@code NO CYCLE}; the registry checks both at its first token.
 */
public enum FencingTokens {

    /**
     * The registry creates the sequence at its first token if it is missing
     * ({@code CREATE SEQUENCE IF NOT EXISTS}, safe when instances race), which needs the
     * {@code CREATE} privilege on the first schema of the {@code search_path}.
     */
    CREATE,

    /**
     * The sequence must exist already (a migration created it); if it does not, the first
     * {@code fencingToken()} throws {@link LockException} with the statement to run.
     */
    REQUIRE;

    /** The sequence the tokens come from, found through the connection's {@code search_path}. */
    public static final String SEQUENCE = "pals_fencing_tokens";

    /** The statement that creates {@link #SEQUENCE}, as {@link #CREATE} runs it. */
    public static final String DDL = "CREATE SEQUENCE IF NOT EXISTS " + SEQUENCE + " CACHE 1 NO CYCLE";
}
