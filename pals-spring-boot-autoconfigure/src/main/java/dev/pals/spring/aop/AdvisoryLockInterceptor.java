package dev.pals.spring.aop;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLock;
import dev.pals.AdvisoryLockSet;
import dev.pals.LockKey;
import dev.pals.LockLostException;
import dev.pals.LockMode;
import dev.pals.LockRegistry;
import dev.pals.TransactionLock;
import dev.pals.spring.LockNotAcquiredEvent;
import dev.pals.spring.LockScope;
import dev.pals.spring.OnContention;
import dev.pals.spring.r2dbc.ReactiveTransactionLocks;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.aopalliance.intercept.MethodInterceptor;
import org.aopalliance.intercept.MethodInvocation;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;
import org.springframework.aop.support.AopUtils;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.jdbc.datasource.DataSourceUtils;
import org.springframework.transaction.support.TransactionSynchronization;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * Takes the lock of an {@code @AdvisoryLocked} method around the call. One instance serves one
 * scope; each is ordered against the transaction interceptor by its advisor.
 */
final class AdvisoryLockInterceptor implements MethodInterceptor {

    private static final Log LOG = LogFactory.getLog(AdvisoryLockInterceptor.class);

    private final LockedMethods lockedMethods;
    private final ObjectProvider<LockRegistry> registry;
    /** The registry once resolved: looked up by type on every call it would cost a bean factory walk. */
    private volatile @Nullable LockRegistry resolvedRegistry;
    private final ObjectProvider<DataSource> dataSource;
    /** For the R2DBC transaction locks, looked up by the reactive branch only, so that R2DBC stays optional. */
    private final BeanFactory beanFactory;
    private final boolean interruptOnLoss;
    /** Where {@link LockNotAcquiredEvent}s go; set once the context is up. */
    private volatile @Nullable ApplicationEventPublisher publisher;
    /** With interrupt-on-loss: the thread running each locked call, by what the call holds (a lock, a set, a permit). */
    private final ConcurrentHashMap<Object, Runner> runners = new ConcurrentHashMap<>();

    /** The reactive calls holding their lock, by the call's handle: a loss ends each with its exception. */
    private final ConcurrentHashMap<AdvisoryLock, Consumer<LockLostException>> reactiveHolds =
            new ConcurrentHashMap<>();
    /** The reactive calls holding a lock set: the loss of a member's handle, which they cannot see, ends each. */
    private final ConcurrentHashMap<AdvisoryLockSet, Consumer<LockLostException>> reactiveSets =
            new ConcurrentHashMap<>();

    /** A thread in a locked call, and whether the loss of its lock interrupted it. */
    private static final class Runner {
        final Thread thread = Thread.currentThread();
        /**
         * Whether the call still holds: a loss is told of one lock, which for a set is one member and
         * for a semaphore one permit, so the call asks its own holder.
         */
        final BooleanSupplier held;
        volatile boolean interrupted;

        Runner(BooleanSupplier held) {
            this.held = held;
        }
    }

    AdvisoryLockInterceptor(LockedMethods lockedMethods, ObjectProvider<LockRegistry> registry,
            ObjectProvider<DataSource> dataSource, BeanFactory beanFactory, boolean interruptOnLoss) {
        this.beanFactory = beanFactory;
        this.lockedMethods = lockedMethods;
        this.registry = registry;
        this.dataSource = dataSource;
        this.interruptOnLoss = interruptOnLoss;
    }

    void setPublisher(ApplicationEventPublisher publisher) {
        this.publisher = publisher;
    }

    /**
     * Tells a reactive call that holds {@code lock} of its loss, until {@link #unwatch}.
     */
    void watch(AdvisoryLock lock, Consumer<LockLostException> onLoss) {
        reactiveHolds.put(lock, onLoss);
    }

    void unwatch(AdvisoryLock lock) {
        reactiveHolds.remove(lock);
    }

    /** Tells a reactive call that holds {@code set} of the loss of a member, until {@link #unwatch(AdvisoryLockSet)}. */
    void watch(AdvisoryLockSet set, Consumer<LockLostException> onLoss) {
        reactiveSets.put(set, onLoss);
    }

    void unwatch(AdvisoryLockSet set) {
        reactiveSets.remove(set);
    }

    /**
     * Interrupts the threads still running calls that held {@code lock}, alone, as a member of a set
     * or as a permit; ends the reactive call that held it with {@code cause}. Atomic against each
     * call's exit, so a thread that already left the method is never interrupted.
     */
    void lost(AdvisoryLock lock, LockLostException cause) {
        Consumer<LockLostException> reactive = reactiveHolds.get(lock);
        if (reactive != null) {
            reactive.accept(cause);
        }
        // a set's member handles are its own: a loss on one of its keys that leaves it not held is its loss
        reactiveSets.forEach((set, onLoss) -> {
            if (set.keys().contains(lock.key()) && !set.isHeld()) {
                onLoss.accept(cause);
            }
        });
        // losses are rare, and the registry marks the lock lost before telling, so each call can ask its holder
        for (Object holder : runners.keySet()) {
            runners.computeIfPresent(holder, (key, runner) -> {
                if (!runner.interrupted && (key == lock || !runner.held.getAsBoolean())) {
                    runner.interrupted = true;
                    runner.thread.interrupt();
                }
                return runner;
            });
        }
    }

    @Override
    public @Nullable Object invoke(MethodInvocation invocation) throws Throwable {
        Object target = invocation.getThis();
        Class<?> targetClass = target == null ? null : AopUtils.getTargetClass(target);
        LockedMethod locked = lockedMethods.find(invocation.getMethod(), targetClass);
        if (locked == null) {
            return invocation.proceed();
        }
        if (!locked.names().isEmpty()) {
            return locked.returnKind() == LockedMethod.ReturnKind.REACTIVE
                    ? ReactiveLockedCall.of(this, invocation, locked, LockSetCall.resolve(locked, invocation, target))
                    : LockSetCall.invoke(this, invocation, locked, target);
        }
        String name = locked.name().resolve(invocation.getArguments(), target);
        if (locked.permits() > 0) {
            return PermitCall.invoke(this, invocation, locked, name);
        }
        if (locked.returnKind() == LockedMethod.ReturnKind.REACTIVE) {
            // only for methods LockedMethods found reactive, so only with Reactor on the class path
            return ReactiveLockedCall.of(this, invocation, locked, List.of(name));
        }
        return locked.scope() == LockScope.TRANSACTION
                ? inTransaction(invocation, locked, name)
                : inSession(invocation, locked, name);
    }

    private @Nullable Object inSession(MethodInvocation invocation, LockedMethod locked, String name)
            throws Throwable {
        AdvisoryLock lock;
        try {
            lock = registry().lock(name, locked.options());
        } catch (IllegalStateException refused) {
            return skippedAtShutdown(locked, name, refused);
        }
        LockKey key = lock.key();
        if (passesThrough(key, locked, name)) {
            return invocation.proceed();
        }
        boolean acquired;
        try {
            acquired = acquire(lock, locked);
        } catch (IllegalStateException refused) {
            return skippedAtShutdown(locked, name, refused);
        }
        if (!acquired) {
            return contended(invocation, locked, name);
        }
        long acquiredAt = System.nanoTime();
        CallChain.enter(key, new CallChain.Entry(name, locked.mode(), lock));
        entered(lock, lock::isHeld);
        Object result;
        try {
            result = invocation.proceed();
        } catch (Throwable failure) {
            leave(lock, key);
            throw releaseOnFailure(lock, locked, acquiredAt, failure);
        }
        leave(lock, key);
        if (result instanceof CompletionStage<?> stage) {
            stage.whenComplete((value, failure) -> releaseAsync(lock, locked, acquiredAt));
            return result;
        }
        release(lock, locked, acquiredAt);
        return result;
    }

    private @Nullable Object inTransaction(MethodInvocation invocation, LockedMethod locked, String name)
            throws Throwable {
        // first, so that a registry that cannot take transaction locks says so before anything else
        TransactionLock lock;
        try {
            lock = registry().transactionLock(name, locked.options());
        } catch (IllegalStateException refused) {
            return skippedAtShutdown(locked, name, refused);
        }
        DataSource serviceDataSource = transactionDataSource(locked);
        if (passesThrough(lock.key(), locked, name)) {
            return invocation.proceed();
        }
        Connection connection = DataSourceUtils.getConnection(serviceDataSource);
        try {
            boolean acquired = locked.blocking() ? lock.tryAcquire(connection, locked.timeout())
                    : lock.tryAcquire(connection);
            if (!acquired) {
                return contended(invocation, locked, name);
            }
        } catch (IllegalStateException refused) {
            return skippedAtShutdown(locked, name, refused);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AcquireFailureException(name, locked.mode(), AcquireFailureException.Reason.INTERRUPTED, null, e);
        } finally {
            DataSourceUtils.releaseConnection(connection, serviceDataSource);
        }
        heldUntilTransactionEnds(lock.key(), new CallChain.Entry(name, locked.mode(), null));
        return invocation.proceed();
    }

    /**
     * The service's DataSource, whose transaction TRANSACTION scope locks in.
     *
     * @throws IllegalStateException if no transaction is active, or the active one is not that DataSource's
     */
    DataSource transactionDataSource(LockedMethod locked) {
        if (!TransactionSynchronizationManager.isActualTransactionActive()) {
            throw new IllegalStateException("@AdvisoryLocked(scope = TRANSACTION) on " + locked.description()
                    + " was called without an active transaction; annotate it or a caller with @Transactional, "
                    + "or use scope = SESSION");
        }
        DataSource serviceDataSource = dataSource.getObject();
        if (!TransactionSynchronizationManager.hasResource(serviceDataSource)) {
            throw new IllegalStateException("@AdvisoryLocked(scope = TRANSACTION) on " + locked.description()
                    + " found a transaction that does not use the service's DataSource, so the lock would not live "
                    + "and die with it; run it in a transaction of that DataSource's transaction manager (JDBC or "
                    + "JPA), or use scope = SESSION");
        }
        return serviceDataSource;
    }

    /** Keeps a transaction lock in the call chain until its transaction ends, so later calls in it pass through. */
    static void heldUntilTransactionEnds(LockKey key, CallChain.Entry entry) {
        CallChain.enter(key, entry);
        TransactionSynchronizationManager.registerSynchronization(new TransactionSynchronization() {
            @Override
            public void afterCompletion(int status) {
                CallChain.leave(key);
            }
        });
    }

    /** The service's R2DBC transaction locks, or {@code null} without a single ConnectionFactory. */
    @Nullable ReactiveTransactionLocks reactiveTransactionLocks() {
        return beanFactory.getBeanProvider(ReactiveTransactionLocks.class).getIfUnique();
    }

    LockRegistry registry() {
        LockRegistry resolved = resolvedRegistry;
        if (resolved == null) {
            resolved = registry.getObject();
            resolvedRegistry = resolved;
        }
        return resolved;
    }

    /**
     * Whether an outer call in this thread's call chain already holds the lock, in either scope,
     * so that this call must not wait for it.
     */
    private static boolean passesThrough(LockKey key, LockedMethod locked, String name) {
        CallChain.Entry outer = CallChain.get(key);
        if (outer == null) {
            return false;
        }
        checkNested(outer.mode(), locked, name);
        return true;
    }

    /** A nested call may pass through an outer one's lock unless it wants more than the outer holds. */
    static void checkNested(LockMode outer, LockedMethod locked, String name) {
        if (outer == LockMode.SHARED && locked.mode() == LockMode.EXCLUSIVE) {
            throw new IllegalStateException("@AdvisoryLocked on " + locked.description() + " wants lock '" + name
                    + "' exclusive, but an outer call in this call chain holds it shared, and waiting would "
                    + "wait for itself; lock the outer call exclusive");
        }
    }

    private static boolean acquire(AdvisoryLock lock, LockedMethod locked) {
        try {
            return locked.blocking() ? lock.tryAcquire(locked.timeout()) : lock.tryAcquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AcquireFailureException(lock.name(), lock.mode(), AcquireFailureException.Reason.INTERRUPTED,
                    null, e);
        }
    }

    @Nullable Object contended(MethodInvocation invocation, LockedMethod locked, String name) {
        AcquireFailureException failure = notAcquired(invocation, locked, name);
        if (failure != null) {
            throw failure;
        }
        return skipped(locked);
    }

    /**
     * Publishes that a call did not get its lock.
     *
     * @return what to throw, or {@code null} when the call skips
     */
    @Nullable AcquireFailureException notAcquired(MethodInvocation invocation, LockedMethod locked, String name) {
        boolean waited = locked.blocking() && !locked.timeout().isZero();
        ApplicationEventPublisher events = publisher;
        if (events != null) {
            Object source = invocation.getThis();
            events.publishEvent(new LockNotAcquiredEvent(source == null ? invocation.getMethod() : source,
                    invocation.getMethod(), name, waited ? AcquireFailureException.Reason.TIMED_OUT
                            : AcquireFailureException.Reason.CONTENDED, locked.onContention() == OnContention.SKIP));
        }
        if (locked.onContention() == OnContention.SKIP) {
            if (LOG.isDebugEnabled()) {
                LOG.debug("Skipped " + locked.description() + ": lock '" + name + "' is held elsewhere"
                        + (waited ? " (waited " + locked.timeout() + ")" : ""));
            }
            return null;
        }
        return waited
                ? new AcquireFailureException(name, locked.mode(), AcquireFailureException.Reason.TIMED_OUT,
                        "waited " + locked.timeout() + " to call " + locked.description(), null)
                : new AcquireFailureException(name, locked.mode(), AcquireFailureException.Reason.CONTENDED,
                        "so " + locked.description() + " did not run", null);
    }

    /**
     * A call refused its lock because the registry is shutting down: a method that skips when it
     * cannot have its lock (a scheduled job the scheduler released during shutdown) skips quietly;
     * any other gets the refusal, as does any failure of a registry that is not shutting down.
     */
    @Nullable Object skippedAtShutdown(LockedMethod locked, String name, IllegalStateException refused) {
        if (!skipsAtShutdown(locked, name)) {
            throw refused;
        }
        return skipped(locked);
    }

    /** Whether a call refused its lock skips quietly, the registry shutting down; logs it if so. */
    boolean skipsAtShutdown(LockedMethod locked, String name) {
        if (locked.onContention() != OnContention.SKIP || !registry().isShuttingDown()) {
            return false;
        }
        LOG.info("Skipped " + locked.description() + ": lock '" + name + "' was refused, the lock registry is "
                + "shutting down");
        return true;
    }

    /** What a skipped call returns, by the method's return type. */
    static @Nullable Object skipped(LockedMethod locked) {
        return switch (locked.returnKind()) {
            case OPTIONAL -> Optional.empty();
            // a null stage would fail the caller's chained calls, so it gets one already completed
            case COMPLETION_STAGE -> CompletableFuture.completedFuture(null);
            default -> null;
        };
    }

    private void leave(AdvisoryLock lock, LockKey key) {
        left(lock);
        CallChain.leave(key);
    }

    /**
     * With interrupt-on-loss, lets the loss of what this thread's call now holds interrupt it, until
     * {@link #left}; {@code held} says whether the call still holds it.
     */
    void entered(Object holder, BooleanSupplier held) {
        if (interruptOnLoss) {
            runners.put(holder, new Runner(held));
        }
    }

    /** Leaves the call: an interrupt the loss of its lock caused must not outlive it. */
    void left(Object holder) {
        Runner runner = runners.remove(holder);
        if (runner != null && runner.interrupted) {
            Thread.interrupted();
        }
    }

    /**
     * Releases when the call ends, or schedules the release for the end of its hold-at-least. A
     * lock lost during the call is reported to the caller now either way.
     *
     * @throws LockLostException if the lock was lost while the method ran
     */
    @SuppressWarnings("FutureReturnValueIgnored") // a callback that logs a failed delayed release; nothing waits for it
    private static void release(AdvisoryLock lock, LockedMethod locked, long acquiredAt) {
        Duration rest = locked.holdAtLeast().minusNanos(System.nanoTime() - acquiredAt);
        if (rest.isNegative() || rest.isZero() || !lock.isHeld()) {
            lock.release();
            return;
        }
        lock.releaseAfter(rest).whenComplete((released, failure) -> {
            if (failure != null) {
                LOG.error("Releasing lock '" + lock.name() + "' at the end of the holdAtLeast of "
                        + locked.description() + " failed: " + failure.getMessage(), failure);
            }
        });
    }

    /**
     * Releases after the method threw, and returns what to throw: a lost lock is the news the
     * caller must not miss, with the method's failure attached; any other release failure is
     * attached to the method's.
     */
    private static Throwable releaseOnFailure(AdvisoryLock lock, LockedMethod locked, long acquiredAt,
            Throwable failure) {
        return releasedAfterFailure(() -> release(lock, locked, acquiredAt), failure);
    }

    /**
     * Runs {@code release} after a locked call threw {@code failure}, and returns what to throw, for
     * every blocking kind of lock (a lock, a set, a permit): a lost lock, with the method's failure
     * attached; else the method's failure, with any other release failure attached.
     */
    static Throwable releasedAfterFailure(Runnable release, Throwable failure) {
        try {
            release.run();
        } catch (LockLostException lost) {
            lost.addSuppressed(failure);
            return lost;
        } catch (RuntimeException releaseFailure) {
            failure.addSuppressed(releaseFailure);
        }
        return failure;
    }

    /** Releases when an async result completes; nobody is left to throw to, so a loss is logged. */
    private static void releaseAsync(AdvisoryLock lock, LockedMethod locked, long acquiredAt) {
        try {
            release(lock, locked, acquiredAt);
        } catch (RuntimeException e) {
            LOG.error("Releasing lock '" + lock.name() + "' after the async result of " + locked.description()
                    + " completed failed: " + e.getMessage(), e);
        }
    }
}
