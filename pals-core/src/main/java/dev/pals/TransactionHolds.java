package dev.pals;

import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Transaction-scoped holds whose end the registry is told of (see
 * {@link LockRegistry.Builder#transactionCompletion}): PostgreSQL releases them at commit or
 * rollback, which the registry cannot see, so each is counted and observed from its acquisition
 * until its caller says the transaction ended.
 */
final class TransactionHolds {

    /** One hold; identity matters, as a transaction may take one lock twice. */
    private static final class Hold {
        final LockInfo info;
        final String owner = LockActivity.currentOwner();
        final Instant since = Instant.now();
        final @Nullable Integer backendPid;
        final LockObserver.Section section;

        Hold(LockInfo info, @Nullable Integer backendPid, LockObserver.Section section) {
            this.info = info;
            this.backendPid = backendPid;
            this.section = section;
        }
    }

    private final Set<Hold> holds = ConcurrentHashMap.newKeySet();
    private final LockObserver observer;
    private final AtomicInteger heldCount;

    TransactionHolds(LockObserver observer, AtomicInteger heldCount) {
        this.observer = observer;
        this.heldCount = heldCount;
    }

    /** Tracks a hold until the returned callback runs; running it again does nothing. */
    Runnable track(LockInfo info, @Nullable Integer backendPid) {
        Hold hold = new Hold(info, backendPid, observer.sectionStarted(info));
        holds.add(hold);
        heldCount.incrementAndGet();
        return () -> {
            if (holds.remove(hold)) {
                heldCount.decrementAndGet();
                hold.section.ended(null);
            }
        };
    }

    /** Adds a row per hold to {@code activity}. */
    void addTo(List<LockActivity> activity) {
        for (Hold hold : holds) {
            activity.add(new LockActivity(hold.info, LockActivity.State.HELD, hold.owner, hold.since, 1,
                    hold.backendPid));
        }
    }
}
