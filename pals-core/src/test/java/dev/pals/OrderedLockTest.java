package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.OrderedLock.Level;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The lock order the engine's locks check, with assertions on as in every test run. */
class OrderedLockTest {

    private final OrderedLock io = new OrderedLock(Level.SESSION_IO);
    private final OrderedLock key = new OrderedLock(Level.KEY_MUTEX);
    private final OrderedLock pool = new OrderedLock(Level.POOL);

    @Test
    void locksTakenInTheOrderAreAllowed() {
        io.lock();
        key.lock();
        pool.lock();
        pool.unlock();
        key.unlock();
        io.unlock();
        assertThat(io.isLocked() || key.isLocked() || pool.isLocked()).isFalse();
    }

    @Test
    void blockingOnAKeysMutexWhileHoldingThePoolsLockFailsNamingBoth() {
        pool.lock();
        try {
            assertThatThrownBy(key::lock).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("blocking on a KEY_MUTEX lock while holding a POOL lock");
        } finally {
            pool.unlock();
        }
        assertThat(key.isLocked()).isFalse();
    }

    @Test
    void blockingOnASessionsIoWhileHoldingAKeysMutexFails() {
        key.lock();
        try {
            assertThatThrownBy(io::lock).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("blocking on a SESSION_IO lock while holding a KEY_MUTEX lock");
        } finally {
            key.unlock();
        }
    }

    @Test
    void aTryThatDoesNotWaitAndAReEntryAreAllowedOutOfOrder() {
        key.lock();
        try {
            assertThat(io.tryLock()).as("a try cannot deadlock").isTrue();
            io.unlock();
            key.lock();
            key.unlock();
        } finally {
            key.unlock();
        }
        pool.lock();
        try {
            pool.lock();
            pool.unlock();
        } finally {
            pool.unlock();
        }
    }

    @Test
    void theOrderIsCheckedPerThread() throws Exception {
        pool.lock();
        try {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread other = new Thread(() -> {
                try {
                    key.lock();
                    key.unlock();
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            other.start();
            other.join(10_000);
            assertThat(failure.get()).as("another thread holds nothing").isNull();
            assertThat(key.isLocked()).isFalse();
        } finally {
            pool.unlock();
        }
    }
}
