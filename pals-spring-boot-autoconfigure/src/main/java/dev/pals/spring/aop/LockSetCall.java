package dev.pals.spring.aop;

import dev.pals.AcquireFailureException;
import dev.pals.AdvisoryLockSet;
import dev.pals.LockKey;
import dev.pals.LockMode;
import dev.pals.TransactionLockSet;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.LockScope;
import java.lang.reflect.Method;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import javax.sql.DataSource;
import org.aopalliance.intercept.MethodInvocation;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.datasource.DataSourceUtils;

/**
 * A call of a method locked on several names ({@code @AdvisoryLocked(names = ...)}): its checks at
 * start-up, and the call itself, holding every name as one {@link AdvisoryLockSet}, or, in TRANSACTION
 * scope, as one {@link TransactionLockSet} of the call's transaction.
 */
final class LockSetCall {

    private static final Log LOG = LogFactory.getLog(LockSetCall.class);

    private LockSetCall() {
    }

    /**
     * The templates of {@code names}, or none when the method is locked on one {@code name}.
     *
     * @throws IllegalStateException if both are given, or one of the names is wrong
     */
    static List<LockNameTemplate> templates(AdvisoryLocked locked, Method method, String description) {
        if (locked.names().length == 0) {
            return List.of();
        }
        if (!locked.name().isEmpty()) {
            throw LockedMethods.invalid(description, "both name = \"" + locked.name() + "\" and names are given; "
                    + "put every lock in names, or use name alone for one lock");
        }
        List<LockNameTemplate> templates = new ArrayList<>();
        for (String name : locked.names()) {
            templates.add(LockNameTemplate.of(name, method));
        }
        return List.copyOf(templates);
    }

    /** Refuses what a lock set cannot do yet; called for a method locked on several names only. */
    static void check(AdvisoryLocked locked, LockedMethod.ReturnKind returnKind, String description) {
        if (locked.scope() == LockScope.TRANSACTION && returnKind == LockedMethod.ReturnKind.REACTIVE) {
            throw LockedMethods.invalid(description, "names = {...} with scope = TRANSACTION takes its locks in a "
                    + "JDBC transaction, and is not supported in a reactive (R2DBC) one; lock on one name, or use "
                    + "scope = SESSION");
        }
        if (!locked.holdAtLeast().isBlank()) {
            throw LockedMethods.invalid(description, "holdAtLeast is not supported with names = {...}; leave it "
                    + "out, or lock on one name");
        }
    }

    /** The group the members report under by default: the templates as written, so that tags stay few. */
    static String group(List<LockNameTemplate> names) {
        return String.join(", ", names.stream().map(LockNameTemplate::source).toList());
    }

    /** The names this call locks, resolved from the call's arguments. */
    static List<String> resolve(LockedMethod locked, MethodInvocation invocation, @Nullable Object target) {
        List<String> names = new ArrayList<>();
        for (LockNameTemplate template : locked.names()) {
            names.add(template.resolve(invocation.getArguments(), target));
        }
        return names;
    }

    /** Runs the call holding every name, or skips or throws as {@code @AdvisoryLocked} says. */
    static @Nullable Object invoke(AdvisoryLockInterceptor interceptor, MethodInvocation invocation,
            LockedMethod locked, @Nullable Object target) throws Throwable {
        List<String> names = resolve(locked, invocation, target);
        if (locked.scope() == LockScope.TRANSACTION) {
            return inTransaction(interceptor, invocation, locked, names);
        }
        String described = names.toString();
        AdvisoryLockSet set;
        try {
            set = interceptor.registry().locks(names, locked.options());
        } catch (IllegalStateException refused) {
            return interceptor.skippedAtShutdown(locked, described, refused);
        }
        List<LockKey> keys = set.keys();
        if (heldByOuterCalls(keys, set.names(), locked)) {
            return invocation.proceed();
        }
        boolean acquired;
        try {
            acquired = locked.blocking() ? set.tryAcquire(locked.timeout()) : set.tryAcquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AcquireFailureException(described, locked.mode(), AcquireFailureException.Reason.INTERRUPTED,
                    null, e);
        } catch (IllegalStateException refused) {
            return interceptor.skippedAtShutdown(locked, described, refused);
        }
        if (!acquired) {
            AcquireFailureException failure = interceptor.notAcquired(invocation, locked, described);
            if (failure != null) {
                throw failure;
            }
            return AdvisoryLockInterceptor.skipped(locked);
        }
        for (int i = 0; i < keys.size(); i++) {
            CallChain.enter(keys.get(i), new CallChain.Entry(set.names().get(i), locked.mode(), null, set));
        }
        interceptor.entered(set, set::isHeld);
        Object result;
        try {
            result = invocation.proceed();
        } catch (Throwable failure) {
            leave(interceptor, set, keys);
            throw AdvisoryLockInterceptor.releasedAfterFailure(set::release, failure);
        }
        leave(interceptor, set, keys);
        if (result instanceof CompletionStage<?> stage) {
            stage.whenComplete((value, failure) -> releaseAsync(set, locked));
            return result;
        }
        set.release();
        return result;
    }

    /**
     * Runs the call with every name held by its transaction, until that transaction ends, or skips
     * or throws as {@code @AdvisoryLocked} says.
     */
    private static @Nullable Object inTransaction(AdvisoryLockInterceptor interceptor, MethodInvocation invocation,
            LockedMethod locked, List<String> names) throws Throwable {
        String described = names.toString();
        // first, so that a registry that cannot take transaction locks says so before anything else
        TransactionLockSet set;
        try {
            set = interceptor.registry().transactionLocks(names, locked.options());
        } catch (IllegalStateException refused) {
            return interceptor.skippedAtShutdown(locked, described, refused);
        }
        DataSource dataSource = interceptor.transactionDataSource(locked);
        List<LockKey> keys = set.keys();
        if (heldByOuterCalls(keys, set.names(), locked)) {
            return invocation.proceed();
        }
        Connection connection = DataSourceUtils.getConnection(dataSource);
        try {
            boolean acquired = locked.blocking() ? set.tryAcquire(connection, locked.timeout())
                    : set.tryAcquire(connection);
            if (!acquired) {
                return interceptor.contended(invocation, locked, described);
            }
        } catch (IllegalStateException refused) {
            return interceptor.skippedAtShutdown(locked, described, refused);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AcquireFailureException(described, locked.mode(), AcquireFailureException.Reason.INTERRUPTED,
                    "nothing of the set is held", e);
        } finally {
            DataSourceUtils.releaseConnection(connection, dataSource);
        }
        for (int i = 0; i < keys.size(); i++) {
            AdvisoryLockInterceptor.heldUntilTransactionEnds(keys.get(i),
                    new CallChain.Entry(set.names().get(i), locked.mode(), null));
        }
        return invocation.proceed();
    }

    /**
     * Whether outer calls hold every key ({@code outer} gives the mode an outer call holds a key
     * in, or null), so that this call passes through.
     *
     * @throws IllegalStateException if they hold some keys only: taking the others now would take
     *     them out of the global order, which could deadlock
     */
    static boolean heldByOuterCalls(List<LockKey> keys, List<String> names, LockedMethod locked,
            Function<LockKey, @Nullable LockMode> outer) {
        List<String> held = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            LockMode mode = outer.apply(keys.get(i));
            if (mode != null) {
                AdvisoryLockInterceptor.checkNested(mode, locked, names.get(i));
                held.add(names.get(i));
            }
        }
        if (held.isEmpty()) {
            return false;
        }
        if (held.size() < keys.size()) {
            throw new IllegalStateException("@AdvisoryLocked on " + locked.description() + " wants locks " + names
                    + ", but an outer call in this call chain holds only " + held + "; taking the others now would "
                    + "take them out of the one order that keeps lock sets from deadlocking; lock all of them in "
                    + "the outer call");
        }
        return true;
    }

    /** Whether outer calls of this thread's chain hold every key, so that this call passes through. */
    private static boolean heldByOuterCalls(List<LockKey> keys, List<String> names, LockedMethod locked) {
        return heldByOuterCalls(keys, names, locked, key -> {
            CallChain.Entry outer = CallChain.get(key);
            return outer == null ? null : outer.mode();
        });
    }

    private static void leave(AdvisoryLockInterceptor interceptor, AdvisoryLockSet set, List<LockKey> keys) {
        interceptor.left(set);
        keys.forEach(CallChain::leave);
    }

    /** Releases when an async result completes; nobody is left to throw to, so a loss is logged. */
    private static void releaseAsync(AdvisoryLockSet set, LockedMethod locked) {
        try {
            set.release();
        } catch (RuntimeException e) {
            LOG.error("Releasing locks " + set.names() + " after the async result of " + locked.description()
                    + " completed failed: " + e.getMessage(), e);
        }
    }
}
