package dev.pals;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Locks kept in this JVM, for {@link LockRegistry#inMemory()}: one table under one lock, with the
 * rules of PostgreSQL's advisory locks (shared holders together, an exclusive holder alone, a
 * holder's re-entry counted) and the ownership of the handles. Waiters are woken in no particular
 * order. Nothing here does I/O, so waiting on the table's condition is the only blocking; one
 * lock for the whole table is simple, and tests hold few locks (observers run under it too, as
 * under a key's lock in {@link LockEngine}, so a slow observer slows every key here).
 */
final class InMemoryEngine extends Engine {

    private final ReentrantLock table = new ReentrantLock();
    private final Condition changed = table.newCondition();
    @GuardedBy("table")
    private final Map<LockKey, Entry> locks = new HashMap<>();
    @GuardedBy("table")
    private boolean closed;
    /** Whether fencing tokens are given; they count up from 1 per registry, as no other registry sees these locks. */
    private final boolean fencing;
    @GuardedBy("table")
    private long lastToken;

    /** The holders of one key, all shared or one exclusive. */
    private static final class Entry {
        final LockMode mode;
        final List<Holder> holders = new ArrayList<>(1);

        Entry(LockMode mode) {
            this.mode = mode;
        }
    }

    InMemoryEngine(List<LockObserver> observers, boolean fencing) {
        super(observers);
        this.fencing = fencing;
    }

    @Override
    long fencingToken(Holder holder) {
        if (!fencing) {
            throw fencingOff(holder.name);
        }
        table.lock();
        try {
            Entry entry = locks.get(holder.key);
            if (entry == null || !Holder.in(entry.holders, holder)) {
                throw holder.noToken();
            }
            return holder.hasToken() ? holder.token : holder.keepToken(++lastToken);
        } finally {
            table.unlock();
        }
    }

    @Override
    @SuppressWarnings("NonAtomicVolatileUpdate") // count changes under the key's lock; volatile for isHeld()
    boolean admit(Holder holder, boolean mayWait, long deadline) throws InterruptedException {
        table.lock();
        try {
            while (true) {
                if (closed) {
                    throw new IllegalStateException("This LockRegistry was closed while lock '" + holder.name
                            + "' was being acquired; nothing is held");
                }
                Entry entry = locks.get(holder.key);
                if (entry != null && Holder.in(entry.holders, holder)) {
                    holder.count++;
                    return true;
                }
                if (entry == null || (entry.mode == LockMode.SHARED && holder.mode == LockMode.SHARED)) {
                    if (entry == null) {
                        entry = new Entry(holder.mode);
                        locks.put(holder.key, entry);
                    }
                    entry.holders.add(holder);
                    granted(holder);
                    return true;
                }
                if (!mayWait) {
                    return false;
                }
                long nanos = Timeouts.remaining(deadline);
                if (nanos == 0) {
                    return false;
                }
                if (nanos == Long.MAX_VALUE) {
                    changed.await();
                } else {
                    changed.awaitNanos(nanos);
                }
            }
        } finally {
            table.unlock();
        }
    }

    @Override
    @SuppressWarnings("NonAtomicVolatileUpdate") // count changes under the key's lock; volatile for isHeld()
    boolean release(Holder holder) {
        @Nullable OpenSection section;
        table.lock();
        try {
            Entry entry = locks.get(holder.key);
            if (entry == null || !Holder.in(entry.holders, holder)) {
                return holder.notHeld();
            }
            holder.count--;
            if (holder.count > 0) {
                return true;
            }
            entry.holders.removeIf(h -> h == holder);
            section = letGo(holder);
            if (entry.holders.isEmpty()) {
                locks.remove(holder.key);
            }
            changed.signalAll();
        } finally {
            table.unlock();
        }
        OpenSection.endIfAny(section, null);
        return true;
    }

    @Override
    List<LockActivity> activity() {
        List<LockActivity> activity = new ArrayList<>();
        table.lock();
        try {
            for (Entry entry : locks.values()) {
                for (Holder holder : entry.holders) {
                    if (holder.reportedAs == null) {
                        continue;
                    }
                    activity.add(new LockActivity(holder.info, LockActivity.State.HELD, holder.owner, holder.since,
                            holder.count, null));
                }
            }
        } finally {
            table.unlock();
        }
        for (Waiter waiter : waiters()) {
            activity.add(new LockActivity(waiter.info, LockActivity.State.WAITING, waiter.owner, waiter.since, 0,
                    null));
        }
        return activity;
    }

    @Override
    List<Integer> grantedPairs(String name, int classId, int from, int to) {
        List<Integer> objIds = new ArrayList<>();
        table.lock();
        try {
            for (LockKey key : locks.keySet()) {
                int objId = (int) key.objId();
                if (key.isPair() && (int) key.classId() == classId && objId >= from && objId <= to
                        && !objIds.contains(objId)) {
                    objIds.add(objId);
                }
            }
        } finally {
            table.unlock();
        }
        return objIds;
    }

    @Override
    int trackedKeys() {
        table.lock();
        try {
            return locks.size();
        } finally {
            table.unlock();
        }
    }

    /** None: the locks live in this JVM. */
    @Override
    @Nullable LeaseBounds leaseBounds() {
        return null;
    }

    /** None: the locks live in this JVM. */
    @Override
    int openConnections() {
        return 0;
    }

    /** Nothing to check: in-memory locks are never lost. */
    @Override
    void housekeep() {
    }

    @Override
    void close(Duration patience) {
        List<@Nullable OpenSection> sections = new ArrayList<>();
        table.lock();
        try {
            closed = true;
            for (Entry entry : locks.values()) {
                for (Holder holder : entry.holders) {
                    sections.add(letGo(holder));
                    holder.releasedByClose = true;
                }
            }
            locks.clear();
            changed.signalAll();
        } finally {
            table.unlock();
        }
        sections.forEach(section -> OpenSection.endIfAny(section, null));
    }
}
