package dev.pals.spring.aop;

import dev.pals.AdvisoryLock;
import dev.pals.AdvisoryLockSet;
import dev.pals.LockKey;
import dev.pals.LockLostException;
import dev.pals.LockMode;
import java.util.HashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * The locks this thread's call chain holds through {@code @AdvisoryLocked}: nested calls on the
 * same name pass through, and {@link AdvisoryLocks#assertHeld()} checks them.
 */
final class CallChain {

    private static final ThreadLocal<Map<LockKey, Entry>> HELD = new ThreadLocal<>();

    private CallChain() {
    }

    /**
     * One lock of the chain.
     *
     * @param lock the session lock's handle, or {@code null} for a transaction lock, which is held
     *     as long as the transaction is, or for a member of a lock set
     * @param set the lock set this is a member of, which is held as long as all its members are
     */
    record Entry(String name, LockMode mode, @Nullable AdvisoryLock lock, @Nullable AdvisoryLockSet set) {

        Entry(String name, LockMode mode, @Nullable AdvisoryLock lock) {
            this(name, mode, lock, null);
        }

        void assertHeld() {
            boolean held = set != null ? set.isHeld()
                    : lock == null ? TransactionSynchronizationManager.isActualTransactionActive() : lock.isHeld();
            if (!held) {
                throw new LockLostException(name, "Lock '" + name + "' is no longer held: its PostgreSQL session "
                        + "ended, so another instance may be in the critical section; stop before the next step", null);
            }
        }
    }

    static Map<LockKey, Entry> current() {
        Map<LockKey, Entry> held = HELD.get();
        return held == null ? Map.of() : held;
    }

    static @Nullable Entry get(LockKey key) {
        return current().get(key);
    }

    static void enter(LockKey key, Entry entry) {
        Map<LockKey, Entry> held = HELD.get();
        if (held == null) {
            held = new HashMap<>();
            HELD.set(held);
        }
        held.putIfAbsent(key, entry);
    }

    static void leave(LockKey key) {
        Map<LockKey, Entry> held = HELD.get();
        if (held != null) {
            held.remove(key);
            if (held.isEmpty()) {
                HELD.remove();
            }
        }
    }
}
