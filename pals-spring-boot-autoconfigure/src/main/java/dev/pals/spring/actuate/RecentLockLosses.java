package dev.pals.spring.actuate;

import dev.pals.LockLostException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/** Remembers the locks lost in the last {@link #WINDOW}, for the health details. */
final class RecentLockLosses {

    /** How far back losses are counted. */
    static final Duration WINDOW = Duration.ofMinutes(15);
    /** Losses remembered at most; a storm of losses is counted up to this. */
    private static final int CAPACITY = 100;

    private final Clock clock;
    private final ReentrantLock guard = new ReentrantLock();
    private final Deque<Loss> losses = new ArrayDeque<>();

    RecentLockLosses(Clock clock) {
        this.clock = clock;
    }

    private record Loss(String lock, Instant at, String cause) {
    }

    void lost(String lockName, LockLostException cause) {
        Loss loss = new Loss(lockName, clock.instant(), Objects.requireNonNullElseGet(cause.getMessage(), cause::toString));
        guard.lock();
        try {
            if (losses.size() == CAPACITY) {
                losses.removeFirst();
            }
            losses.addLast(loss);
        } finally {
            guard.unlock();
        }
    }

    /** The count within the window, and the last loss if it is within it. */
    Map<String, Object> details() {
        Instant since = clock.instant().minus(WINDOW);
        guard.lock();
        try {
            losses.removeIf(loss -> loss.at().isBefore(since));
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("lostInLast15Minutes", losses.size());
            Loss last = losses.peekLast();
            if (last != null) {
                details.put("lastLoss", Map.of("lock", last.lock(), "at", last.at(), "cause", last.cause()));
            }
            return details;
        } finally {
            guard.unlock();
        }
    }
}
