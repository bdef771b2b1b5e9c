package dev.pals.spring.autoconfigure;

import dev.pals.LockRegistry;
import java.time.Duration;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.springframework.context.SmartLifecycle;

/**
 * Closes the auto-configured registry gracefully when the context closes: no new locks from then
 * on, locked methods still running may finish, and what is still held after the shutdown phase's
 * timeout is logged and released. It stops after the phases that end work: a leader steps down
 * (its {@code Leadership} stops in the default phase, before this), the scheduler stops, and the
 * web server's graceful shutdown lets requests finish (its phase is {@code DEFAULT_PHASE - 1024}).
 */
final class LockRegistryShutdown implements SmartLifecycle {

    /** After the web server's graceful shutdown, before the web server itself stops. */
    static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 1536;

    private static final Log LOG = LogFactory.getLog(LockRegistryShutdown.class);

    private final LockRegistry registry;
    private final Duration timeout;
    private volatile boolean running;

    /** @param timeout how long holders may take: the shutdown phase's timeout, less a margin to close in */
    LockRegistryShutdown(LockRegistry registry, Duration timeout) {
        this.registry = registry;
        this.timeout = timeout;
    }

    @Override
    public void start() {
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        try {
            if (!registry.closeGracefully(timeout)) {
                LOG.warn("Locks were still held when the lock registry closed at shutdown; see the registry's log");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return PHASE;
    }
}
