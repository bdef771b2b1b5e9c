package dev.pals;

/**
 * How a lock is held.
 *
 * <p>Any number of {@link #SHARED} holders may hold a name at once; an {@link #EXCLUSIVE} holder
 * excludes every other holder, shared or exclusive, in this JVM and in every other session of
 * the database.
 */
public enum LockMode {

    /** One holder at a time: {@code pg_advisory_lock}. */
    EXCLUSIVE,

    /** Many holders at a time, excluding exclusive holders: {@code pg_advisory_lock_shared}. */
    SHARED;

    String label() {
        return this == EXCLUSIVE ? "exclusive" : "shared";
    }
}
