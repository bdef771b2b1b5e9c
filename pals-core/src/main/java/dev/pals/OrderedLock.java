package dev.pals;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link ReentrantLock} with a place in the engine's lock order (see {@link LockEngine}):
 * a session's {@code io}, then a key's mutex, then the pool's lock. With assertions on (the
 * tests), taking a lock that blocks while this thread holds one further down the order fails at
 * once with the two named, instead of deadlocking some day under load. A {@code tryLock()} that
 * does not wait cannot deadlock and is only counted. Without assertions it is a plain
 * {@code ReentrantLock}.
 */
@SuppressWarnings("serial") // never serialized
final class OrderedLock extends ReentrantLock {

    /** The order: a thread holding one may block on those after it only. */
    enum Level {
        SESSION_IO(0), KEY_MUTEX(1), POOL(2);

        /** Its place in the order, which a thread may only go down while it blocks. */
        final int rank;

        Level(int rank) {
            this.rank = rank;
        }
    }

    /** Per thread, how many holds it has of each level. */
    private static final ThreadLocal<int[]> HELD = ThreadLocal.withInitial(() -> new int[Level.values().length]);

    private final Level level;

    OrderedLock(Level level) {
        this.level = level;
    }

    @Override
    public void lock() {
        assert mayBlock();
        super.lock();
        assert counted(1);
    }

    @Override
    public void lockInterruptibly() throws InterruptedException {
        assert mayBlock();
        super.lockInterruptibly();
        assert counted(1);
    }

    @Override
    public boolean tryLock() {
        boolean taken = super.tryLock();
        assert !taken || counted(1);
        return taken;
    }

    @Override
    public boolean tryLock(long timeout, TimeUnit unit) throws InterruptedException {
        assert mayBlock();
        boolean taken = super.tryLock(timeout, unit);
        assert !taken || counted(1);
        return taken;
    }

    @Override
    public void unlock() {
        super.unlock();
        assert counted(-1);
    }

    private boolean mayBlock() {
        if (isHeldByCurrentThread()) {
            return true;
        }
        int[] held = HELD.get();
        for (Level later : Level.values()) {
            if (later.rank > level.rank && held[later.rank] > 0) {
                throw new AssertionError("Lock order broken: blocking on a " + level + " lock while holding a "
                        + later + " lock (the order is " + Arrays.toString(Level.values()) + ")");
            }
        }
        return true;
    }

    private boolean counted(int change) {
        HELD.get()[level.rank] += change;
        return true;
    }
}
