package dev.pals;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * The threads of one registry, in four lanes, each bounded by what it serves, so that no lane
 * can fill up with work that waits for another lane's:
 * <ul>
 *   <li>the housekeeper: one thread for loss checks, idle returns and timers;
 *   <li>server waits: one thread per wait in the server, which needs a session of its own, so at
 *       most {@code maxConnections};
 *   <li>workers: cancels being sent, loss reports, and the waits of transaction-scoped locks
 *       (whose callers block meanwhile, one wait each): as many as that demand, idle threads
 *       ending after a while;
 *   <li>asynchronous acquisitions and delayed releases, which no caller blocks for: at most
 *       {@code maxAsyncThreads}; beyond that they queue in arrival order, their timeouts running.
 * </ul>
 * Threads come from the builder's {@link ThreadFactory}; by default the housekeeper is a daemon
 * platform thread, and the others are virtual threads where the JDK has them (21 and later) and
 * daemon platform threads otherwise.
 */
final class RegistryThreads {

    private static final long KEEP_ALIVE_SECONDS = 30;

    private final ScheduledThreadPoolExecutor housekeeper;
    private final ThreadPoolExecutor serverWaits;
    private final ThreadPoolExecutor workers;
    private final ThreadPoolExecutor async;

    RegistryThreads(@Nullable ThreadFactory factory, int maxConnections, int maxAsyncThreads) {
        this.housekeeper = new ScheduledThreadPoolExecutor(1,
                factory != null ? factory : platformThreads("pals-lock-housekeeper-"));
        this.housekeeper.setRemoveOnCancelPolicy(true);
        this.serverWaits = bounded(maxConnections, factory != null ? factory : waitingThreads("pals-lock-wait-"));
        this.workers = new ThreadPoolExecutor(0, Integer.MAX_VALUE, KEEP_ALIVE_SECONDS, TimeUnit.SECONDS,
                new SynchronousQueue<>(), factory != null ? factory : waitingThreads("pals-lock-worker-"));
        this.async = bounded(maxAsyncThreads, factory != null ? factory : waitingThreads("pals-lock-async-"));
    }

    ScheduledExecutorService housekeeper() {
        return housekeeper;
    }

    Executor serverWaits() {
        return serverWaits;
    }

    Executor workers() {
        return workers;
    }

    Executor async() {
        return async;
    }

    /**
     * Whether every thread of the asynchronous lane is busy, so that work queued now waits for one
     * to finish rather than for one to start. Approximate, as the pool's counts are.
     */
    boolean asyncLaneFull() {
        return async.getActiveCount() >= async.getMaximumPoolSize();
    }

    /**
     * Interrupts every thread and refuses new work, for a registry that is closed.
     *
     * @return the work still queued, which never runs, for the caller to answer
     */
    List<Runnable> shutdownNow() {
        List<Runnable> queued = new ArrayList<>();
        for (ExecutorService lane : List.of(housekeeper, serverWaits, workers, async)) {
            queued.addAll(lane.shutdownNow());
        }
        return queued;
    }

    /** At most {@code threads} threads, started as work comes and ended when idle; further work queues. */
    private static ThreadPoolExecutor bounded(int threads, ThreadFactory factory) {
        ThreadPoolExecutor lane = new ThreadPoolExecutor(threads, threads, KEEP_ALIVE_SECONDS, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), factory);
        lane.allowCoreThreadTimeOut(true);
        return lane;
    }

    /** Virtual threads where the JDK has them: a thread that waits costs then next to nothing. */
    private static ThreadFactory waitingThreads(String prefix) {
        try {
            Method ofVirtual = Thread.class.getMethod("ofVirtual");
            Class<?> builder = Class.forName("java.lang.Thread$Builder");
            Object named = builder.getMethod("name", String.class, long.class)
                    .invoke(ofVirtual.invoke(null), prefix, 1L);
            return (ThreadFactory) builder.getMethod("factory").invoke(named);
        } catch (ReflectiveOperationException | RuntimeException beforeJdk21) {
            return platformThreads(prefix);
        }
    }

    private static ThreadFactory platformThreads(String prefix) {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, prefix + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
