package dev.pals;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One hold of a lock set, for try-with-resources: {@link #close()} releases every member.
 *
 * <pre>{@code
 * try (HeldLockSet held = registry.locks(List.of("account:" + from, "account:" + to)).hold()) {
 *     // no other holder of either account runs this
 * }
 * }</pre>
 *
 * Closing twice releases once. If a member was lost while held, {@code close()} releases the
 * others and throws {@link LockLostException}; when the block itself threw, that exception is
 * added to the block's as suppressed, so neither is hidden.
 */
public final class HeldLockSet implements AutoCloseable {

    private final AdvisoryLockSet locks;
    private final AtomicBoolean closed = new AtomicBoolean();

    HeldLockSet(AdvisoryLockSet locks) {
        this.locks = locks;
    }

    /** The set this hold belongs to. */
    public AdvisoryLockSet locks() {
        return locks;
    }

    /** Whether this hold is still open and every member still held (it turns false on a loss). */
    public boolean isHeld() {
        return !closed.get() && locks.isHeld();
    }

    /**
     * Releases this hold of every member; does nothing if already closed.
     *
     * @throws LockLostException if a member was lost while held
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            locks.release();
        }
    }
}
