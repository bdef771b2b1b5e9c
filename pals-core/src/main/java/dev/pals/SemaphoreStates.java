package dev.pals;

import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * A registry's {@link SemaphoreState}s, one per name and number of permits. A state lives while
 * something needs it: the handles on it and their held permits refer to it; this table only
 * weakly, so that a service with a semaphore per account keeps no state for the accounts it no
 * longer uses. Entries whose state was collected are dropped at the next look-up.
 */
final class SemaphoreStates {

    private record Key(String name, int permits) {
    }

    private static final class Entry extends WeakReference<SemaphoreState> {
        final Key key;

        Entry(SemaphoreState state, Key key, ReferenceQueue<SemaphoreState> queue) {
            super(state, queue);
            this.key = key;
        }
    }

    private final ConcurrentHashMap<Key, Entry> states = new ConcurrentHashMap<>();
    private final ReferenceQueue<SemaphoreState> collected = new ReferenceQueue<>();

    /** The state of {@code name} with {@code permits}, made by {@code create} if none is alive. */
    SemaphoreState get(String name, int permits, Supplier<SemaphoreState> create) {
        dropCollected();
        Key key = new Key(name, permits);
        while (true) {
            Entry entry = states.get(key);
            SemaphoreState state = entry == null ? null : entry.get();
            if (state != null) {
                return state;
            }
            SemaphoreState made = create.get();
            Entry fresh = new Entry(made, key, collected);
            if (entry == null ? states.putIfAbsent(key, fresh) == null : states.replace(key, entry, fresh)) {
                return made;
            }
        }
    }

    /** States in the table, collected ones dropped first. */
    int size() {
        dropCollected();
        return states.size();
    }

    private void dropCollected() {
        Reference<? extends SemaphoreState> gone;
        while ((gone = collected.poll()) != null) {
            Entry entry = (Entry) gone;
            states.remove(entry.key, entry);
        }
    }
}
