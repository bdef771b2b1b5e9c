package dev.pals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The lock factory: hands out {@link AdvisoryLock} handles on PostgreSQL advisory locks, bound
 * to a {@link DataSource}, a namespace and defaults. Thread-safe; build one per DataSource and
 * share it.
 *
 * <pre>{@code
 * LockRegistry registry = LockRegistry.builder(dataSource).namespace("billing").build();
 * try (HeldLock held = registry.lock("nightly-report").hold()) {
 *     // only one holder in the whole cluster runs this
 * }
 * }</pre>
 *
 * <p><b>Connections.</b> Held locks share a few connections of the DataSource (at most
 * {@link Builder#maxConnections}); each blocking wait in the server needs a connection that holds
 * nothing, so at most {@code maxConnections - 1} waits run in the server at once and further
 * waiters retry with back-off until one is free. Give the registry a DataSource of its own (a
 * small pool) so that its connections, held for as long as locks are, never starve the
 * application's queries. A connection goes back to the DataSource once it has held nothing for
 * the idle timeout, after {@code pg_advisory_unlock_all()}.
 *
 * <p><b>Server.</b> The first connection proves the server is PostgreSQL and not a standby in
 * recovery; otherwise {@link UnsupportedLockServerException} is thrown by the acquisition that
 * opened it.
 *
 * <p><b>Loss.</b> Every loss-check interval (default 1 s) each connection that holds locks and is
 * idle runs one {@code SELECT 1}; a dead connection marks its locks lost (see
 * {@link AdvisoryLock}). The cost is one trivial query per second per holding connection.
 *
 * <p><b>Leases.</b> When the network goes silent (a dead host, a split) no error arrives, so two
 * bounds decide who learns first. Every statement on a lock connection (try, release, check) has
 * a network timeout (default 2 s); a check or release that gets no answer in time aborts the
 * connection and reports its locks lost, so a holder is told within the loss-check interval plus
 * the network timeout. Each lock connection asks PostgreSQL, through its session's
 * {@code tcp_keepalives_*} and {@code tcp_user_timeout}, to end the session of a client it no
 * longer hears from after the silent-client timeout (default 20 s), which frees a dead host's
 * locks. {@link Builder#build()} refuses settings under which the second could come first, and
 * {@link #leaseBounds()} reports what the server actually applied.
 */
public final class LockRegistry implements AutoCloseable {

    /** The timeout that means "wait without limit". */
    public static final Duration FOREVER = Timeouts.FOREVER;

    /**
     * The longest wait short of {@link #FOREVER}, about 24 days, as PostgreSQL's
     * {@code lock_timeout} is an int of milliseconds: a longer timeout is refused, and so is a
     * longer {@link AdvisoryLock#releaseAfter} delay.
     */
    public static final Duration LONGEST_WAIT = Timeouts.LONGEST;

    private static final System.Logger LOG = System.getLogger(LockRegistry.class.getName());
    private static final long DRAIN_POLL_MILLIS = 20;

    /** How long {@link #close()} lets a cancelled statement finish before aborting its connection. */
    private static final Duration CLOSE_PATIENCE = Duration.ofSeconds(5);

    private final @Nullable String namespace;
    private final boolean blocking;
    private final Duration acquireTimeout;
    private final RegistryThreads threads;
    private final Engine engine;
    private final @Nullable TransactionCompletion transactionCompletion;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Set by {@link #closeGracefully}: handles that do not hold may not acquire any more. */
    private volatile boolean draining;
    private final AsyncLocks async;
    /** What the handles of each semaphore share; see {@link SemaphoreStates}. */
    private final SemaphoreStates semaphores = new SemaphoreStates();

    @SuppressWarnings("FutureReturnValueIgnored") // housekeeping runs until close() shuts the scheduler down
    private LockRegistry(Builder builder, Lease lease) {
        this.namespace = builder.namespace;
        this.blocking = builder.blocking;
        this.acquireTimeout = builder.acquireTimeout;
        this.transactionCompletion = builder.transactionCompletion;
        this.threads = new RegistryThreads(builder.threadFactory, builder.maxConnections, builder.maxAsyncThreads);
        DataSource dataSource = builder.dataSource;
        this.engine = dataSource == null ? new InMemoryEngine(builder.observers, builder.fencingTokens != null)
                : new LockEngine(dataSource, builder.maxConnections, builder.idleTimeout, lease, threads,
                        builder.listeners, builder.observers, builder.fencingTokens);
        this.async = new AsyncLocks(threads, builder.taskDecorator);
        long interval = builder.lossCheckInterval.toNanos();
        threads.housekeeper().scheduleWithFixedDelay(this::housekeep, interval, interval, TimeUnit.NANOSECONDS);
    }

    /** One round of upkeep; a failure is logged, as it would otherwise end the schedule and every later loss check. */
    private void housekeep() {
        try {
            engine.housekeep();
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.ERROR, "PALs lock housekeeping failed; it runs again at the next loss check", e);
        }
    }

    /** Starts a registry on {@code dataSource}, which must lead to a PostgreSQL primary. */
    public static Builder builder(DataSource dataSource) {
        return new Builder(Objects.requireNonNull(dataSource, "dataSource"));
    }

    /**
     * Starts a registry that keeps its locks in this JVM, for unit tests that do not want a
     * database. Its handles behave as on PostgreSQL (ownership, re-entry counts, shared and
     * exclusive, timeouts, interrupts, observers, activity), but it excludes nothing beyond itself:
     * two in-memory registries, like two processes, do not see each other's locks. The connection
     * settings do not apply, locks are never lost, and {@link #transactionLock} is not supported.
     */
    public static Builder inMemory() {
        return new Builder(null);
    }

    /** A handle on the exclusive lock {@code name} in this registry's namespace, with its defaults. */
    public AdvisoryLock lock(String name) {
        return lock(name, LockOptions.exclusive());
    }

    /**
     * A handle on the lock {@code name} in this registry's namespace.
     *
     * @throws IllegalArgumentException if the name is null or blank
     */
    public AdvisoryLock lock(String name, LockOptions options) {
        return handle(name, LockKey.of(namespace, LockKey.requireText(name, "lock name")), options);
    }

    /** A handle on the exclusive lock with the raw {@code bigint} key, outside any namespace. */
    public AdvisoryLock lock(long key) {
        return lock(key, LockOptions.exclusive());
    }

    /** A handle on the lock with the raw {@code bigint} key, outside any namespace. */
    public AdvisoryLock lock(long key, LockOptions options) {
        LockKey lockKey = LockKey.of(key);
        return handle(lockKey.toString(), lockKey, options);
    }

    /** A handle on the exclusive lock with the {@code (int, int)} key pair, outside any namespace. */
    public AdvisoryLock lock(int key1, int key2) {
        return lock(key1, key2, LockOptions.exclusive());
    }

    /** A handle on the lock with the {@code (int, int)} key pair, outside any namespace. */
    public AdvisoryLock lock(int key1, int key2, LockOptions options) {
        LockKey lockKey = LockKey.of(key1, key2);
        return handle(lockKey.toString(), lockKey, options);
    }

    /** A set of the exclusive locks {@code names} in this registry's namespace, with its defaults. */
    public AdvisoryLockSet locks(Collection<String> names) {
        return locks(names, LockOptions.exclusive());
    }

    /**
     * A set of the locks {@code names} in this registry's namespace, acquired all or nothing in
     * ascending key order (see {@link AdvisoryLockSet}); names with the same key are one member.
     * Every member takes the mode of {@code options}, and the set its defaults, whose timeout
     * bounds the whole set.
     *
     * @throws IllegalArgumentException if there are no names, or one is null or blank
     */
    public AdvisoryLockSet locks(Collection<String> names, LockOptions options) {
        return AdvisoryLockSet.of(this, names, options);
    }

    /**
     * A handle on the semaphore {@code name} in this registry's namespace, which lets at most
     * {@code permits} holders in at once across every instance; see {@link AdvisorySemaphore}.
     * Every instance must give the same name the same number of permits.
     *
     * @throws IllegalArgumentException if the name is null or blank, or permits is not between 1
     *     and {@link AdvisorySemaphore#MAX_PERMITS}
     */
    public AdvisorySemaphore semaphore(String name, int permits) {
        LockKey.requireText(name, "semaphore name");
        AdvisorySemaphore.checkPermits(name, permits);
        engine();
        SemaphoreState state = semaphores.get(name, permits,
                () -> new SemaphoreState(this, name, LockKey.of(namespace, name), permits));
        return new AdvisorySemaphore(this, state, blocking, acquireTimeout);
    }

    /**
     * A transaction-scoped lock on {@code name} in this registry's namespace, taken on a
     * connection the caller owns and released when its transaction ends.
     *
     * @throws IllegalArgumentException if the name is null or blank
     * @throws UnsupportedOperationException if this registry keeps its locks in memory
     */
    public TransactionLock transactionLock(String name, LockMode mode) {
        return transactionLock(name, LockOptions.exclusive().withMode(Objects.requireNonNull(mode, "mode")));
    }

    /**
     * A transaction-scoped lock on {@code name} in this registry's namespace, in the mode and
     * group of {@code options}; their blocking and timeout settings do not apply, since each
     * acquisition names its own wait.
     *
     * @throws IllegalArgumentException if the name is null or blank
     * @throws UnsupportedOperationException if this registry keeps its locks in memory
     */
    public TransactionLock transactionLock(String name, LockOptions options) {
        Objects.requireNonNull(options, "options");
        LockKey key = LockKey.of(namespace, LockKey.requireText(name, "lock name"));
        Engine current = engine();
        if (current.leaseBounds() == null) {
            throw new UnsupportedOperationException("Transaction-scoped lock '" + name + "' needs PostgreSQL, but this "
                    + "registry keeps its locks in memory; test TRANSACTION scope against a database");
        }
        return new TransactionLock(new LockInfo(name, key, options.mode(), LockInfo.Scope.TRANSACTION, group(options)),
                this, current, transactionCompletion, threads.workers(), threads.housekeeper());
    }

    /**
     * Transaction-scoped locks on {@code names} in this registry's namespace, taken all or nothing
     * in ascending key order in a connection's transaction (see {@link TransactionLockSet}), in the
     * mode and group of {@code options}; names with the same key are one member.
     *
     * @throws IllegalArgumentException if there are no names, or one is null or blank
     * @throws UnsupportedOperationException if this registry keeps its locks in memory
     */
    public TransactionLockSet transactionLocks(Collection<String> names, LockOptions options) {
        return TransactionLockSet.of(this, names, options);
    }

    /**
     * Runs {@code task} holding the exclusive lock {@code name}, waiting at most {@code timeout}
     * for it, and releases the lock however the task ends.
     *
     * @return what the task returned
     * @throws AcquireFailureException if the lock was not obtained; the task did not run
     * @throws LockLostException if the lock was lost while the task ran (added as suppressed
     *     when the task threw)
     * @throws E what the task threw
     */
    public <T extends @Nullable Object, E extends Throwable> T executeLocked(String name, Duration timeout, LockedCallable<T, E> task)
            throws E {
        try (HeldLock held = lock(name).hold(timeout)) {
            return task.call();
        }
    }

    /** Runs {@code task} holding the exclusive lock {@code name}, with the registry's defaults. */
    public <T extends @Nullable Object, E extends Throwable> T executeLocked(String name, LockedCallable<T, E> task) throws E {
        try (HeldLock held = lock(name).hold()) {
            return task.call();
        }
    }

    /** The namespace names are qualified with (PALs' app name), or {@code null} for none. */
    public @Nullable String namespace() {
        return namespace;
    }

    /**
     * Connections out of the DataSource now: holding locks, waiting or idle, and the two that wake
     * waits which found no connection of their own to wait on (at most {@code maxConnections + 2}).
     */
    public int openConnections() {
        return engine.openConnections();
    }

    /**
     * The bounds of this registry's session locks when the network goes silent: how soon a holder
     * is told, and how soon PostgreSQL frees a silent client's locks, as the server reported it
     * for the last connection opened. {@code null} for a registry that keeps its locks in memory.
     */
    public @Nullable LeaseBounds leaseBounds() {
        return engine.leaseBounds();
    }

    /**
     * Holds now: handles of this registry holding their lock (a re-entrant handle counts once),
     * and transaction-scoped holds while tracked (see {@link Builder#transactionCompletion}).
     */
    public int heldLocks() {
        return engine.heldCount();
    }

    /**
     * Acquisitions that may wait, of handles and of transaction locks of this registry, not
     * answered yet.
     */
    public int waitingLocks() {
        return engine.waitingCount();
    }

    /**
     * Every hold of this registry's handles, and every acquisition of its handles and transaction
     * locks that may wait and is not answered yet: who, since when, on which backend. Taken key by
     * key without stopping the registry, so it is no atomic snapshot. Transaction-scoped holds
     * appear while tracked (see {@link Builder#transactionCompletion}): the registry cannot see
     * their transactions end. Safe to call once the registry is closed, when it holds nothing.
     */
    public List<LockActivity> activity() {
        return engine.activity();
    }

    /**
     * Releases every lock this registry holds and returns its connections. Handles that held a
     * lock report {@code isHeld() == false}; any later use of a handle, {@code release()}
     * included, throws {@link IllegalStateException}; waits in progress are cancelled in the server and their
     * acquisitions throw {@link IllegalStateException}. A connection still busy after a few seconds
     * is aborted, which frees its locks too. Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        engine.close(CLOSE_PATIENCE);
        async.closed(threads.shutdownNow());
    }

    /**
     * Closes the registry once the locks it holds are let go, for a service shutting down. From
     * this call on, an acquisition by a handle that does not already hold its lock throws
     * {@link IllegalStateException} saying the registry is shutting down, and so does a new
     * transaction-scoped acquisition; re-entries, releases and
     * waits already under way go on. Returns once no handle holds and no acquisition waits, or once
     * {@code timeout} has passed, and then closes the registry as {@link #close()} does, logging
     * the locks still held then (their holders learn it from {@link AdvisoryLock#isHeld()}).
     * Transaction-scoped holds are waited for while tracked (see {@link Builder#transactionCompletion}).
     *
     * @return whether every hold had ended before the registry closed
     * @throws InterruptedException if interrupted while waiting; the registry is then closed at once
     * @throws IllegalArgumentException if the timeout is negative
     */
    public boolean closeGracefully(Duration timeout) throws InterruptedException {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("The timeout must not be negative, but was " + timeout);
        }
        draining = true;
        long deadline = System.nanoTime() + timeout.toNanos();
        boolean drained = false;
        try {
            // holds end on many paths; a shutdown can afford to look every few milliseconds instead of being told
            drained = isIdle();
            while (!drained && System.nanoTime() - deadline < 0 && !closed.get()) {
                Thread.sleep(DRAIN_POLL_MILLIS);
                drained = isIdle();
            }
        } finally {
            List<LockActivity> left = closed.get() ? List.of()
                    : engine.activity().stream().filter(each -> each.state() == LockActivity.State.HELD).toList();
            if (!left.isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, () -> "Closing the LockRegistry with " + left.size() + " lock(s) "
                        + "still held after the shutdown's " + timeout + ": " + left.stream()
                        .map(each -> "'" + each.lock().name() + "' (held by " + each.owner() + " since " + each.since()
                                + ")").toList() + "; they are released now");
            }
            close();
        }
        return drained;
    }

    private boolean isIdle() {
        return engine.heldCount() == 0 && engine.waitingCount() == 0;
    }

    /**
     * The engine for an acquisition by {@code holder}: refused once the registry is closed, and
     * once it is closing gracefully unless the holder already holds (a re-entry).
     */
    Engine forAcquisition(Holder holder) {
        Engine current = engine();
        if (holder.count == 0) {
            requireAdmitting(holder.name);
        }
        return current;
    }

    /** Refuses a new lock once the registry is closing gracefully. */
    void requireAdmitting(String name) {
        if (draining) {
            throw new IllegalStateException("This LockRegistry is shutting down and takes no new locks, so lock '"
                    + name + "' was not acquired; locks already held can still be re-entered and released");
        }
    }

    /**
     * Whether {@link #closeGracefully} or {@link #close()} has begun, so that new locks are
     * refused with {@link IllegalStateException}.
     */
    public boolean isShuttingDown() {
        return draining || closed.get();
    }

    /** Whether {@link #close()} has begun. */
    boolean isClosed() {
        return closed.get();
    }

    Engine engine() {
        if (closed.get()) {
            throw closedError(null);
        }
        return engine;
    }

    /** What any use of a closed registry, or of its handles, throws. */
    static IllegalStateException closedError(@Nullable Throwable cause) {
        return new IllegalStateException("This LockRegistry is closed; build a new one to take locks", cause);
    }

    CompletableFuture<Boolean> releaseAfter(AsyncLocks.Target lock, Duration delay) {
        return async.releaseAfter(lock, delay);
    }

    CompletableFuture<Boolean> acquireAsync(AsyncLocks.Target lock, Duration timeout) {
        return async.acquireAsync(lock, timeout);
    }

    SemaphoreStates semaphoreStates() {
        return semaphores;
    }

    /** A session-scoped handle on {@code key}, reported under {@code name}. */
    AdvisoryLock handle(String name, LockKey key, LockOptions options) {
        Objects.requireNonNull(options, "options");
        engine();
        Boolean handleBlocking = options.blocking();
        Duration handleTimeout = options.timeout();
        return new AdvisoryLock(this, new LockInfo(name, key, options.mode(), LockInfo.Scope.SESSION, group(options)),
                handleBlocking == null ? blocking : handleBlocking,
                handleTimeout == null ? acquireTimeout : handleTimeout);
    }

    private static String group(LockOptions options) {
        String group = options.group();
        return group == null ? LockInfo.UNGROUPED : group;
    }

    /** Settings of a {@link LockRegistry}; every setting has a default. */
    public static final class Builder {

        /** Where locks are kept; {@code null} for this JVM. */
        private final @Nullable DataSource dataSource;
        private @Nullable String namespace;
        private boolean blocking = true;
        private Duration acquireTimeout = Duration.ofSeconds(30);
        private int maxConnections = 4;
        private Duration idleTimeout = Duration.ofSeconds(10);
        private Duration lossCheckInterval = Duration.ofSeconds(1);
        private Duration networkTimeout = Duration.ofSeconds(2);
        private Duration silentClientTimeout = Duration.ofSeconds(20);
        private final List<LockLossListener> listeners = new ArrayList<>();
        private final List<LockObserver> observers = new ArrayList<>();
        private @Nullable TransactionCompletion transactionCompletion;
        private @Nullable ThreadFactory threadFactory;
        private int maxAsyncThreads = 16;
        private UnaryOperator<Runnable> taskDecorator = UnaryOperator.identity();
        private @Nullable FencingTokens fencingTokens;

        private Builder(@Nullable DataSource dataSource) {
            this.dataSource = dataSource;
        }

        /**
         * The namespace lock names are qualified with, PALs' app name: {@code "ns.name"} is hashed
         * to the key. {@code null} (the default) for none.
         *
         * @throws IllegalArgumentException if blank but not null
         */
        public Builder namespace(@Nullable String namespace) {
            this.namespace = namespace == null ? null : LockKey.requireText(namespace, "namespace");
            return this;
        }

        /** Whether handles wait by default in {@code acquire()} and {@code hold()}; default true. */
        public Builder blocking(boolean blocking) {
            this.blocking = blocking;
            return this;
        }

        /**
         * How long handles wait by default; default 30 s as PALs. Zero means do not wait,
         * {@link LockRegistry#FOREVER} wait without limit.
         *
         * @throws IllegalArgumentException if negative or too long
         */
        public Builder acquireTimeout(Duration acquireTimeout) {
            this.acquireTimeout = Timeouts.check(acquireTimeout, "acquireTimeout");
            return this;
        }

        /**
         * The most connections the registry keeps out of the DataSource at once; default 4. All
         * held locks share them; each concurrent server wait needs one of its own, and one is
         * always kept for tries and releases.
         *
         * @throws IllegalArgumentException if less than 1
         */
        public Builder maxConnections(int maxConnections) {
            if (maxConnections < 1) {
                throw new IllegalArgumentException("maxConnections must be at least 1, but was " + maxConnections
                        + "; 2 or more lets a waiter wait in the server");
            }
            this.maxConnections = maxConnections;
            return this;
        }

        /**
         * How long a connection that holds nothing stays out before it goes back to the
         * DataSource; default 10 s. Zero returns it as soon as it holds nothing, which costs a
         * round trip to unlock all and a pool checkout per lock.
         */
        public Builder idleTimeout(Duration idleTimeout) {
            Objects.requireNonNull(idleTimeout, "idleTimeout");
            if (idleTimeout.isNegative()) {
                throw new IllegalArgumentException("idleTimeout must not be negative, but was " + idleTimeout);
            }
            this.idleTimeout = idleTimeout;
            return this;
        }

        /**
         * How often idle connections that hold locks are checked for loss; default 1 s. Each check
         * is one {@code SELECT 1} per such connection.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder lossCheckInterval(Duration lossCheckInterval) {
            Objects.requireNonNull(lossCheckInterval, "lossCheckInterval");
            if (lossCheckInterval.isNegative() || lossCheckInterval.isZero()) {
                throw new IllegalArgumentException("lossCheckInterval must be positive, but was " + lossCheckInterval);
            }
            this.lossCheckInterval = lossCheckInterval;
            return this;
        }

        /**
         * The longest a statement on a lock connection may go unanswered: a try, a release or a
         * loss check; a server wait gets its own timeout plus this. Default 2 s. When it passes,
         * the connection is aborted and its locks are reported lost ({@code release()} throws
         * {@link LockLostException}), so a holder learns of a silent network within the
         * loss-check interval plus this, and no caller's thread hangs on one.
         *
         * @throws IllegalArgumentException if not positive or longer than 24 days
         */
        public Builder networkTimeout(Duration networkTimeout) {
            Objects.requireNonNull(networkTimeout, "networkTimeout");
            if (networkTimeout.isNegative() || networkTimeout.isZero()
                    || networkTimeout.compareTo(Timeouts.LONGEST) > 0) {
                throw new IllegalArgumentException("networkTimeout must be positive and at most " + Timeouts.LONGEST
                        + ", but was " + networkTimeout);
            }
            this.networkTimeout = networkTimeout;
            return this;
        }

        /**
         * How long PostgreSQL keeps the session, and so the locks, of a client it no longer hears
         * from (a dead host, a network split); default 20 s, in whole seconds, at least 2 s. Each
         * lock connection sets its session's {@code tcp_keepalives_idle}, {@code _interval},
         * {@code _count} and {@code tcp_user_timeout} from it when it opens; without them the
         * server's defaults keep a dead host's locks for about two hours. It must exceed the
         * loss detection (loss-check interval plus network timeout) by a margin as long again, at
         * least 1 s, which {@link #build()} checks.
         *
         * @throws IllegalArgumentException if shorter than 2 s or longer than 18 h (the longest
         *     keepalive idle time Linux takes is half of that)
         */
        public Builder silentClientTimeout(Duration silentClientTimeout) {
            Objects.requireNonNull(silentClientTimeout, "silentClientTimeout");
            if (silentClientTimeout.compareTo(Duration.ofSeconds(2)) < 0
                    || silentClientTimeout.compareTo(Lease.LONGEST_SILENT_CLIENT_TIMEOUT) > 0) {
                throw new IllegalArgumentException("silentClientTimeout must be at least 2 s and at most "
                        + Lease.LONGEST_SILENT_CLIENT_TIMEOUT + ", but was " + silentClientTimeout);
            }
            this.silentClientTimeout = Duration.ofSeconds(silentClientTimeout.toSeconds());
            return this;
        }

        /** Adds a listener told of every lost lock. */
        public Builder lossListener(LockLossListener listener) {
            listeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /**
         * Adds an observer told of every acquisition and critical section, for metrics and
         * tracing. Observers are told in the order they were added.
         */
        public Builder observer(LockObserver observer) {
            observers.add(Objects.requireNonNull(observer, "observer"));
            return this;
        }

        /**
         * Makes the registry's threads: its housekeeper (loss checks, idle returns, timers), one
         * per wait in the server (at most {@link #maxConnections}), workers that send cancels,
         * report losses and run transaction-lock waits (one per waiting caller), and those of
         * {@code acquireAsync} and {@code releaseAfter} (at most {@link #maxAsyncThreads}). By
         * default the housekeeper is a daemon platform thread and the others are virtual threads
         * where the JDK has them (21 and later), daemon platform threads otherwise.
         */
        public Builder threadFactory(ThreadFactory threadFactory) {
            this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
            return this;
        }

        /**
         * The most threads running {@link AdvisoryLock#acquireAsync} acquisitions and
         * {@link AdvisoryLock#releaseAfter} releases at once; default 16. Further ones queue in the
         * order they were asked for, their timeouts running meanwhile.
         *
         * @throws IllegalArgumentException if less than 1
         */
        public Builder maxAsyncThreads(int maxAsyncThreads) {
            if (maxAsyncThreads < 1) {
                throw new IllegalArgumentException("maxAsyncThreads must be at least 1, but was " + maxAsyncThreads);
            }
            this.maxAsyncThreads = maxAsyncThreads;
            return this;
        }

        /**
         * Wraps the work the registry runs on its threads for a caller, so that the caller's
         * context (trace, logging context) goes with it: the acquisition of
         * {@link AdvisoryLock#acquireAsync}, its expiry while queued, and the release of
         * {@link AdvisoryLock#releaseAfter}. The decorator is called on the caller's thread,
         * within those calls, to capture that thread's context; the runnable it returns runs later
         * on a registry thread, where observers, listeners of the future and the release then see
         * it. Default: the identity, which carries nothing. The Spring Boot starter sets Spring's
         * {@code ContextPropagatingTaskDecorator} when Micrometer's context propagation is present.
         *
         * <p>Keep it quick: it runs on the caller's thread and on the registry's. If the decorator
         * throws, {@code acquireAsync} or {@code releaseAfter} throws it and nothing is scheduled
         * (a lock given to {@code releaseAfter} stays held). If the runnable it returned throws or
         * returns without running the task it was given, an acquisition completes exceptionally with
         * what it threw (or {@link IllegalStateException}) holding nothing, and a delayed release is
         * made without the caller's context, with a warning logged, so that no lock stays held for
         * want of a context.
         */
        public Builder taskDecorator(UnaryOperator<Runnable> taskDecorator) {
            this.taskDecorator = Objects.requireNonNull(taskDecorator, "taskDecorator");
            return this;
        }

        /**
         * How the registry learns that the transaction holding a {@link TransactionLock} ended, so
         * that it can count, show, observe and wait for transaction-scoped holds; default none, and
         * then they are not tracked (PostgreSQL releases them all the same).
         */
        public Builder transactionCompletion(TransactionCompletion transactionCompletion) {
            this.transactionCompletion = Objects.requireNonNull(transactionCompletion, "transactionCompletion");
            return this;
        }

        /**
         * Lets holders ask for fencing tokens ({@link AdvisoryLock#fencingToken()}), from the
         * sequence {@value FencingTokens#SEQUENCE}, which {@code setup} says who creates; default
         * off, when {@code fencingToken()} throws. Nothing is checked or created before the first
         * token, and locks whose holders never ask cost nothing more. An in-memory registry counts
         * its tokens in the JVM, from 1.
         */
        public Builder fencingTokens(FencingTokens setup) {
            this.fencingTokens = Objects.requireNonNull(setup, "setup");
            return this;
        }

        /**
         * Builds the registry. No connection is opened until the first acquisition.
         *
         * @throws IllegalArgumentException if the silent-client timeout does not safely exceed the
         *     loss detection (see {@link #silentClientTimeout})
         */
        public LockRegistry build() {
            Lease lease = new Lease(lossCheckInterval, networkTimeout, silentClientTimeout);
            lease.check();
            return new LockRegistry(this, lease);
        }
    }
}
