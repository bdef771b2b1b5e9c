package dev.pals;

/**
 * One permit of an {@link AdvisorySemaphore}, for try-with-resources: {@link #close()} gives it
 * back.
 *
 * <pre>{@code
 * try (HeldPermit permit = registry.semaphore("exports", 2).hold()) {
 *     // at most two of these run at once in the whole cluster
 * }
 * }</pre>
 *
 * Closing twice, or after {@link AdvisorySemaphore#release()} gave this permit back, releases
 * nothing more. If the permit was lost while held, {@code close()} throws
 * {@link LockLostException}; when the block itself threw, that exception is added to the block's
 * as suppressed, so neither is hidden.
 */
public final class HeldPermit implements AutoCloseable {

    private final AdvisorySemaphore semaphore;
    private final int slot;
    private final AdvisoryLock marker;

    HeldPermit(AdvisorySemaphore semaphore, int slot, AdvisoryLock marker) {
        this.semaphore = semaphore;
        this.slot = slot;
        this.marker = marker;
    }

    /** The semaphore this permit belongs to. */
    public AdvisorySemaphore semaphore() {
        return semaphore;
    }

    /** Which permit this is, from 0: the {@code objid} of its lock in {@code pg_locks}. */
    public int slot() {
        return slot;
    }

    /** Whether this permit is still held: not given back, and not lost. */
    public boolean isHeld() {
        return semaphore.owns(this) && slotHeld();
    }

    /**
     * Gives this permit back; does nothing if it was given back already.
     *
     * @throws LockLostException if the permit was lost while held
     */
    @Override
    public void close() {
        semaphore.release(this);
    }

    boolean slotHeld() {
        return semaphore.slotHeld(slot);
    }

    AdvisoryLock marker() {
        return marker;
    }
}
