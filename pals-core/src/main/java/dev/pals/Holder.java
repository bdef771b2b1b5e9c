package dev.pals;

import java.lang.ref.WeakReference;
import org.jspecify.annotations.Nullable;

/**
 * The ownership state of one handle, kept apart from the {@link AdvisoryLock} object so that the
 * registry's tables never keep a handle reachable: an abandoned handle can then be found by the
 * {@link java.lang.ref.Cleaner} and its lock released. Mutable fields change under the key's
 * {@link KeyState#mutex}.
 */
final class Holder {

    final String name;
    final LockKey key;
    final LockMode mode;
    final WeakReference<AdvisoryLock> handle;

    /** Re-entrant hold count; 0 when not held. Written under the key's mutex. */
    volatile int count;
    /** A loss not yet reported by {@code release()}. Written under the key's mutex. */
    @Nullable LockLostException lost;
    /** The registry closed while this was held. Written under the key's mutex. */
    boolean releasedByClose;

    Holder(String name, LockKey key, LockMode mode, AdvisoryLock handle) {
        this.name = name;
        this.key = key;
        this.mode = mode;
        this.handle = new WeakReference<>(handle);
    }
}
