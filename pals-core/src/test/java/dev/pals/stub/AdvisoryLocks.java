package dev.pals.stub;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The server's advisory lock table, with PostgreSQL's semantics for session locks: each backend
 * holds a key in exclusive and shared mode with a re-entrant count for each; a backend never
 * conflicts with itself; exclusive conflicts with every other holder, shared only with exclusive;
 * a request that would jump a conflicting waiter is not granted (a new shared request queues behind
 * a waiting exclusive one), except a re-entry in a mode already held; waiters are granted in order.
 */
final class AdvisoryLocks {

    /** How long a wait without lock_timeout may last in the stub before it fails instead of hanging a test. */
    static final long LONGEST_WAIT_MILLIS = 10_000;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Key, then backend pid, then {exclusive count, shared count}. */
    private final Map<StubKey, Map<Integer, int[]>> held = new HashMap<>();
    private final Map<StubKey, List<Request>> queues = new HashMap<>();

    private record Request(StubBackend backend, boolean exclusive) {
    }

    boolean tryLock(StubBackend backend, StubKey key, boolean exclusive) {
        lock.lock();
        try {
            if (!grantable(backend, key, exclusive, queues.getOrDefault(key, List.of()))) {
                return false;
            }
            grant(backend.pid, key, exclusive);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code pg_advisory_lock}: waits for the key, at most {@code timeoutMillis} (0: the stub's longest
     * wait), failing as PostgreSQL does when the lock timeout passes (55P03), the statement is
     * cancelled (57014) or the backend ends (57P01).
     */
    void lock(StubBackend backend, StubKey key, boolean exclusive, long timeoutMillis) throws SQLException {
        long wait = timeoutMillis == 0 ? LONGEST_WAIT_MILLIS : Math.min(timeoutMillis, LONGEST_WAIT_MILLIS);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(wait);
        Request request = new Request(backend, exclusive);
        lock.lock();
        try {
            List<Request> queue = queues.computeIfAbsent(key, k -> new ArrayList<>());
            if (grantable(backend, key, exclusive, queue)) {
                grant(backend.pid, key, exclusive);
                return;
            }
            queue.add(request);
            try {
                while (!grantable(backend, key, exclusive, queue.subList(0, queue.indexOf(request)))) {
                    if (backend.isTerminated()) {
                        throw new SQLException("terminating connection due to administrator command", "57P01");
                    }
                    if (backend.takeCancel()) {
                        throw new SQLException("canceling statement due to user request", "57014");
                    }
                    long nanos = deadline - System.nanoTime();
                    if (nanos <= 0) {
                        throw new SQLException("canceling statement due to lock timeout", "55P03");
                    }
                    try {
                        changed.awaitNanos(nanos);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new SQLException("the stub's wait was interrupted", "57014", e);
                    }
                }
                grant(backend.pid, key, exclusive);
            } finally {
                queue.remove(request);
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Wakes waits so that they see a cancel or a terminated backend. */
    void wakeWaiters() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** {@code pg_advisory_unlock}: whether the backend held the key in that mode (one hold goes). */
    boolean unlock(int pid, StubKey key, boolean exclusive) {
        lock.lock();
        try {
            Map<Integer, int[]> byBackend = held.get(key);
            int[] counts = byBackend == null ? null : byBackend.get(pid);
            int mode = exclusive ? 0 : 1;
            if (counts == null || counts[mode] == 0) {
                return false;
            }
            counts[mode]--;
            if (counts[0] == 0 && counts[1] == 0) {
                byBackend.remove(pid);
                if (byBackend.isEmpty()) {
                    held.remove(key);
                }
            }
            changed.signalAll();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** {@code pg_advisory_unlock_all}, and what a backend's end does. */
    void unlockAll(int pid) {
        lock.lock();
        try {
            held.values().forEach(byBackend -> byBackend.remove(pid));
            held.values().removeIf(Map::isEmpty);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Whether {@code pid} holds {@code key} in any mode: its granted row in {@code pg_locks}. */
    boolean holds(int pid, StubKey key) {
        lock.lock();
        try {
            Map<Integer, int[]> byBackend = held.get(key);
            return byBackend != null && byBackend.containsKey(pid);
        } finally {
            lock.unlock();
        }
    }

    /** Whether some backend waits for {@code key} exclusively: a row NOT granted, mode ExclusiveLock. */
    boolean exclusiveWaiting(StubKey key) {
        return waiting(key, true) > 0;
    }

    int waiting(StubKey key, boolean exclusiveOnly) {
        lock.lock();
        try {
            return (int) queues.getOrDefault(key, List.of()).stream()
                    .filter(request -> request.exclusive || !exclusiveOnly).count();
        } finally {
            lock.unlock();
        }
    }

    /** The backends holding {@code key}, in any mode. */
    Set<Integer> holders(StubKey key) {
        lock.lock();
        try {
            return new TreeSet<>(held.getOrDefault(key, Map.of()).keySet());
        } finally {
            lock.unlock();
        }
    }

    /** Every key some backend holds. */
    Set<StubKey> heldKeys() {
        lock.lock();
        try {
            return Set.copyOf(held.keySet());
        } finally {
            lock.unlock();
        }
    }

    /** {@code ahead}: the waiters a request may not jump, the whole queue for a new one. */
    private boolean grantable(StubBackend backend, StubKey key, boolean exclusive, List<Request> ahead) {
        Map<Integer, int[]> byBackend = held.getOrDefault(key, Map.of());
        int[] own = byBackend.get(backend.pid);
        if (own != null && own[exclusive ? 0 : 1] > 0) {
            return true;
        }
        for (Map.Entry<Integer, int[]> other : byBackend.entrySet()) {
            if (other.getKey() != backend.pid && (other.getValue()[0] > 0 || exclusive)) {
                return false;
            }
        }
        for (Request request : ahead) {
            if (request.backend != backend && (request.exclusive || exclusive)) {
                return false;
            }
        }
        return true;
    }

    private void grant(int pid, StubKey key, boolean exclusive) {
        held.computeIfAbsent(key, k -> new HashMap<>()).computeIfAbsent(pid, p -> new int[2])[exclusive ? 0 : 1]++;
    }
}
