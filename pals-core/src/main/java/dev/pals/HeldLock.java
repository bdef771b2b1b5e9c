package dev.pals;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One hold of a lock, for try-with-resources: {@link #close()} releases it.
 *
 * <pre>{@code
 * try (HeldLock held = registry.lock("nightly-report").hold()) {
 *     // only one holder in the whole cluster runs this
 * }
 * }</pre>
 *
 * Closing twice releases once. If the lock was lost while held, {@code close()} throws
 * {@link LockLostException}; when the block itself threw, that exception is added to the block's
 * as suppressed, so neither is hidden.
 */
public final class HeldLock implements AutoCloseable {

    private final AdvisoryLock lock;
    private final AtomicBoolean closed = new AtomicBoolean();

    HeldLock(AdvisoryLock lock) {
        this.lock = lock;
    }

    /** The handle this hold belongs to. */
    public AdvisoryLock lock() {
        return lock;
    }

    /**
     * The fencing token of this hold, as {@link AdvisoryLock#fencingToken()} gives it.
     *
     * @throws IllegalStateException if this hold is closed, or as {@link AdvisoryLock#fencingToken()}
     * @throws LockLostException if the lock was lost
     */
    public long fencingToken() {
        if (closed.get()) {
            throw new IllegalStateException("This hold of lock '" + lock.name() + "' is closed, so it has no fencing "
                    + "token any more");
        }
        return lock.fencingToken();
    }

    /** Whether this hold is still open and its lock still held (it turns false on loss). */
    public boolean isHeld() {
        return !closed.get() && lock.isHeld();
    }

    /**
     * Releases this hold; does nothing if already closed.
     *
     * @throws LockLostException if the lock was lost while held
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            lock.release();
        }
    }
}
