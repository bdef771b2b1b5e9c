package dev.pals;

/**
 * Told when a held lock is lost because the PostgreSQL session holding it ended.
 *
 * <p>Called once per lost handle: on a registry thread when the housekeeping or another
 * operation found the connection broken, or on the thread whose {@link AdvisoryLock#release()}
 * found it; always after the handle already reports {@link AdvisoryLock#isHeld()} false, and
 * never while the calling thread holds one of the registry's internal locks. Keep it quick and non-blocking; an exception it throws is logged and ignored.
 */
@FunctionalInterface
public interface LockLossListener {

    /**
     * The lock of {@code lock} was lost.
     *
     * @param lock the handle that held it
     * @param cause what ended the session, as a {@link LockLostException} with the details
     */
    void lockLost(AdvisoryLock lock, LockLostException cause);
}
