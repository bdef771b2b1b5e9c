package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/** Waits happen in the server, end promptly, and leave nothing behind however they end. */
class ServerWaitTest extends LockTestSupport {

    private static final Duration LONG = Duration.ofSeconds(60);

    @Test
    void waiterWaitsInTheServerAndIsWokenPromptlyWhenTheHolderReleases() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");
        Connection holder = holdFromOutside(lock.key());

        CompletableFuture<Boolean> waiting = lock.acquireAsync(LONG);
        awaitServerWaiter(lock.key());
        long released = System.nanoTime();
        unlockAll(holder);

        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        // far below the 60 s timeout: the server woke the waiter (generous bound for noisy machines)
        assertThat(Duration.ofNanos(System.nanoTime() - released)).isLessThan(Duration.ofSeconds(10));
        lock.release();
    }

    @Test
    void waitForeverWaitsUntilTheHolderReleases() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");
        Connection holder = holdFromOutside(lock.key());

        CompletableFuture<Boolean> waiting = lock.acquireAsync(LockRegistry.FOREVER);
        awaitServerWaiter(lock.key());
        assertThat(waiting).isNotDone();
        unlockAll(holder);

        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        lock.release();
    }

    @Test
    void interruptedWaitThrowsInterruptedAndLeavesNothingHeld() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");
        Connection holder = holdFromOutside(lock.key());
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread waiter = new Thread(() -> {
            try {
                outcome.set(new AssertionError("acquired: " + lock.tryAcquire(LONG)));
            } catch (InterruptedException e) {
                outcome.set(e);
            }
        });
        waiter.start();
        awaitServerWaiter(lock.key());

        waiter.interrupt();
        waiter.join(TimeUnit.SECONDS.toMillis(30));

        assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
        awaitNoLocksOnPool();
        unlockAll(holder);
        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
    }

    @Test
    void cancelledAsyncAcquireCancelsTheServerWaitAndLeavesNothingHeld() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");
        Connection holder = holdFromOutside(lock.key());

        CompletableFuture<Boolean> waiting = lock.acquireAsync(LONG);
        awaitServerWaiter(lock.key());
        assertThat(waiting.cancel(true)).isTrue();

        awaitNoLocksOnPool();
        unlockAll(holder);
        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).isZero();
        assertThatThrownBy(waiting::join).isInstanceOf(CancellationException.class);
    }

    @Test
    void grantCrossingACancelLeavesTheLockHeldExactlyWhenTheFutureSaysSo() throws Exception {
        LockRegistry registry = registry();
        for (int round = 0; round < 20; round++) {
            AdvisoryLock lock = registry.lock("x" + round);
            Connection holder = holdFromOutside(lock.key());
            CompletableFuture<Boolean> waiting = lock.acquireAsync(LONG);
            awaitServerWaiter(lock.key());

            CountDownLatch go = new CountDownLatch(1);
            Thread releaser = new Thread(() -> {
                awaitQuietly(go);
                unlockAll(holder);
            });
            releaser.start();
            go.countDown();
            boolean cancelled = waiting.cancel(true);
            releaser.join();

            boolean acquired = !cancelled && waiting.get(30, TimeUnit.SECONDS);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(grantedOnServer(lock.key())).isEqualTo(acquired ? 1 : 0));
            assertThat(lock.isHeld()).isEqualTo(acquired);
            if (acquired) {
                lock.release();
            }
        }
        awaitNoLocksOnPool();
    }

    @Test
    void grantCrossingAnInterruptLeavesNothingHeld() throws Exception {
        LockRegistry registry = registry();
        for (int round = 0; round < 20; round++) {
            AdvisoryLock lock = registry.lock("x" + round);
            Connection holder = holdFromOutside(lock.key());
            AtomicReference<Object> outcome = new AtomicReference<>();
            Thread waiter = new Thread(() -> {
                try {
                    outcome.set(lock.tryAcquire(LONG));
                } catch (InterruptedException e) {
                    outcome.set(e);
                }
            });
            waiter.start();
            awaitServerWaiter(lock.key());

            unlockAll(holder);
            waiter.interrupt();
            waiter.join(TimeUnit.SECONDS.toMillis(30));

            boolean acquired = Boolean.TRUE.equals(outcome.get());
            assertThat(outcome.get()).isNotNull();
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(grantedOnServer(lock.key())).isEqualTo(acquired ? 1 : 0));
            if (acquired) {
                lock.release();
            }
        }
        awaitNoLocksOnPool();
    }

    @Test
    void timedOutWaitNeverLeavesLockTimeoutSetOnTheConnection() throws Exception {
        try (HikariDataSource pool = DB.dataSource(2)) {
            LockRegistry registry = registry(LockRegistry.builder(pool).namespace(namespace)
                    .maxConnections(2).idleTimeout(Duration.ZERO));
            AdvisoryLock lock = registry.lock("x");
            Connection holder = holdFromOutside(lock.key());

            assertThat(lock.tryAcquire(Duration.ofMillis(200))).isFalse();
            await().atMost(Duration.ofSeconds(30)).until(() -> registry.openConnections() == 0);

            try (Connection first = pool.getConnection(); Connection second = pool.getConnection()) {
                assertThat(lockTimeout(first)).isEqualTo("0");
                assertThat(lockTimeout(second)).isEqualTo("0");
            }
            unlockAll(holder);
            registry.close();
            assertThat(advisoryLocksOf(pool.getPoolName())).isZero();
        }
    }

    @Test
    void timedOutAcquireAsyncCompletesWithFalse() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");
        holdFromOutside(lock.key());

        assertThat(lock.acquireAsync(Duration.ofMillis(200)).get(30, TimeUnit.SECONDS)).isFalse();
        awaitNoLocksOnPool();
    }

    @Test
    void acquireAsyncDoesNotBlockTheCallingThread() throws Exception {
        LockRegistry registry = registry();
        AdvisoryLock lock = registry.lock("x");
        Connection holder = holdFromOutside(lock.key());

        long started = System.nanoTime();
        CompletableFuture<Boolean> waiting = lock.acquireAsync(LONG);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        assertThat(waiting).isNotDone();

        unlockAll(holder);
        assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
        lock.release();
    }

    @Test
    void failureAfterTheGrantLeavesNoPooledSessionHoldingTheKey() throws Exception {
        AtomicInteger refusals = new AtomicInteger();
        LockRegistry registry = registry(LockRegistry.builder(refusingNetworkTimeouts(refusals)).namespace(namespace));
        AdvisoryLock lock = registry.lock("x");
        Connection holder = holdFromOutside(lock.key());
        CompletableFuture<Boolean> waiting = lock.acquireAsync(LONG);
        awaitServerWaiter(lock.key());

        // the wait set its own network timeout before it was sent: the next call is its restore, after the grant
        refusals.set(1);
        unlockAll(holder);

        assertThatThrownBy(() -> waiting.get(30, TimeUnit.SECONDS)).hasCauseInstanceOf(LockException.class);
        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).as("granted to the session the pool keeps").isZero();
        assertThat(lock.tryAcquire()).isTrue();
        lock.release();
    }

    @Test
    void failureAfterTheGrantDiscardsTheSessionWhenClearingItFailsToo() throws Exception {
        AtomicInteger refusals = new AtomicInteger();
        LockRegistry registry = registry(LockRegistry.builder(refusingNetworkTimeouts(refusals)).namespace(namespace));
        AdvisoryLock lock = registry.lock("x");
        Connection holder = holdFromOutside(lock.key());
        CompletableFuture<Boolean> waiting = lock.acquireAsync(LONG);
        awaitServerWaiter(lock.key());

        refusals.set(Integer.MAX_VALUE);
        unlockAll(holder);

        assertThatThrownBy(() -> waiting.get(30, TimeUnit.SECONDS)).hasCauseInstanceOf(LockException.class);
        // the session was ended, not cleared: the server frees the key once it sees the connection closed
        await().atMost(Duration.ofSeconds(10)).until(() -> grantedOnServer(lock.key()) == 0);
        refusals.set(0);
        assertThat(lock.tryAcquire()).isTrue();
        lock.release();
    }

    /**
     * {@link #dataSource}, whose connections refuse {@code setNetworkTimeout} while {@code refusals}
     * is above zero, counting it down: a failure that is not a lost connection, at a point of a
     * server wait that no real server can be made to fail at on cue.
     */
    private DataSource refusingNetworkTimeouts(AtomicInteger refusals) {
        return proxy(DataSource.class, (self, method, args) -> {
            Object result = delegate(method, dataSource, args);
            return result instanceof Connection connection ? proxy(Connection.class, (inner, call, callArgs) -> {
                if (call.getName().equals("setNetworkTimeout") && refusals.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    throw new SQLException("setNetworkTimeout refused by the test", "HY000");
                }
                return delegate(call, connection, callArgs);
            }) : result;
        });
    }

    private static <T> T proxy(Class<T> type, InvocationHandler handler) {
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler));
    }

    private static @Nullable Object delegate(Method method, Object target, Object @Nullable [] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private Connection holdFromOutside(LockKey key) throws SQLException {
        Connection connection = outsider();
        lockFrom(connection, key);
        return connection;
    }

    private void awaitNoLocksOnPool() {
        await().atMost(Duration.ofSeconds(30)).until(() -> advisoryLocksOf(dataSource.getPoolName()) == 0);
    }

    private static String lockTimeout(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SHOW lock_timeout")) {
            rows.next();
            return rows.getString(1);
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
