package dev.pals.spring;

/** How long a lock taken for a locked method lives, and on which connection. */
public enum LockScope {

    /**
     * On the lock pool's connections, from before the call until it returns (or until a returned
     * {@code CompletionStage} completes). With {@code @Transactional} on the same method the lock
     * wraps the transaction: it is taken before the transaction begins and released after it ends.
     */
    SESSION,

    /**
     * {@code pg_advisory_xact_lock} on the connection of the caller's current Spring transaction
     * on the service's DataSource; PostgreSQL releases it when that transaction commits or rolls
     * back. Needs an active transaction: {@code @Transactional} on the method itself (the lock is
     * then taken inside it) or on a caller. The safe choice for critical sections that write to
     * the same database, and the only one that works behind a pooler in transaction mode.
     */
    TRANSACTION
}
