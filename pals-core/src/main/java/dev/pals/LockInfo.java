package dev.pals;

import java.util.Objects;

/**
 * What observers and the activity snapshot know of a lock: its name, key, mode, scope and the
 * group it reports under.
 *
 * @param name the name the lock was asked for by, or its key's text when asked for by key; may
 *     carry ids ({@code account:42}), so never use it as a metric tag
 * @param key the PostgreSQL key
 * @param mode exclusive or shared
 * @param scope held until released (session) or until the transaction ends
 * @param group the low-cardinality group for metric tags and span names: set with
 *     {@link LockOptions#withGroup}, else {@link #UNGROUPED}
 */
public record LockInfo(String name, LockKey key, LockMode mode, Scope scope, String group) {

    /** The group of a lock whose options name none. */
    public static final String UNGROUPED = "ungrouped";

    /** How long a lock lives. */
    public enum Scope {
        /** Held until released, on one of the registry's connections. */
        SESSION,
        /** Held until the transaction it was taken in ends, on the caller's connection. */
        TRANSACTION
    }

    /** Checks that no component is null. */
    public LockInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(scope, "scope");
        Objects.requireNonNull(group, "group");
    }
}
