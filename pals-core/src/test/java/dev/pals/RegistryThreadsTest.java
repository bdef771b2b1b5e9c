package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** The registry's own threads: where they come from, how many run, and what keeps the loss checks going. */
class RegistryThreadsTest extends LockTestSupport {

    @Test
    void everyRegistryThreadComesFromTheGivenThreadFactory() throws Exception {
        Set<String> made = ConcurrentHashMap.newKeySet();
        AtomicInteger count = new AtomicInteger();
        ThreadFactory factory = runnable -> {
            Thread thread = new Thread(runnable, "mine-" + count.incrementAndGet());
            thread.setDaemon(true);
            made.add(thread.getName());
            return thread;
        };
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).threadFactory(factory));
        Connection outsider = outsider();
        AdvisoryLock lock = registry.lock("made");
        lockFrom(outsider, lock.key());
        CompletableFuture<Boolean> acquired = lock.acquireAsync(Duration.ofSeconds(30));
        awaitServerWaiter(lock.key());
        List<LockActivity> waiting = registry.activity();
        unlockAll(outsider);
        assertThat(acquired.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(lock.release()).isTrue();
        assertThat(waiting).singleElement().satisfies(activity -> assertThat(made).contains(activity.owner()));
        assertThat(made).as("the housekeeper, the asynchronous acquisition, its wait in the server")
                .hasSizeGreaterThanOrEqualTo(3);
    }

    @Test
    void anAsynchronousAcquisitionQueuedBeyondTheBoundTimesOutWithoutRunning() throws Exception {
        LockRegistry registry = registry(LockRegistry.builder(dataSource).namespace(namespace).maxAsyncThreads(1));
        Connection outsider = outsider();
        AdvisoryLock first = registry.lock("first");
        AdvisoryLock second = registry.lock("second");
        lockFrom(outsider, first.key());
        lockFrom(outsider, second.key());
        CompletableFuture<Boolean> running = first.acquireAsync(Duration.ofSeconds(30));
        awaitServerWaiter(first.key());
        long start = System.nanoTime();
        CompletableFuture<Boolean> queued = second.acquireAsync(Duration.ofMillis(300));

        assertThat(queued.get(10, TimeUnit.SECONDS)).isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(300),
                Duration.ofMillis(300).plus(SLACK));
        assertThat(running).as("the one thread is still the first acquisition's").isNotDone();
        assertThat(waitingOnServer(second.key())).as("the queued acquisition never ran").isZero();
        unlockAll(outsider);
        assertThat(running.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(first.release()).isTrue();
    }

    @Test
    void anAsynchronousAcquisitionStillQueuedWhenTheRegistryClosesIsAnsweredClosed() throws Exception {
        CountDownLatch observing = new CountDownLatch(1);
        // the only async thread stays busy in an observer (user code), which closing the engine does not end
        LockObserver slow = new LockObserver() {
            @Override
            public Acquisition acquisitionStarted(LockInfo lock, boolean mayWait) {
                if (lock.name().equals("first")) {
                    observing.countDown();
                    try {
                        new CountDownLatch(1).await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return Acquisition.NONE;
            }
        };
        LockRegistry registry = LockRegistry.builder(dataSource).namespace(namespace).maxAsyncThreads(1)
                .observer(slow).build();
        CompletableFuture<Boolean> running = registry.lock("first").acquireAsync(LockRegistry.FOREVER);
        assertThat(observing.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<Boolean> queued = registry.lock("second").acquireAsync(LockRegistry.FOREVER);

        registry.close();

        assertThatThrownBy(() -> queued.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> running.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
    }

    @Test
    void aLossCheckThatFailsOutsideJdbcReportsTheLocksLostInsteadOfCheckingNoMore() throws Exception {
        AtomicBoolean broken = new AtomicBoolean();
        List<String> lost = new CopyOnWriteArrayList<>();
        LockRegistry registry = registry(LockRegistry.builder(failingChecks(dataSource, broken)).namespace(namespace)
                .lossCheckInterval(Duration.ofMillis(100))
                .lossListener((lock, cause) -> lost.add(lock.name())));
        AdvisoryLock lock = registry.lock("checked");
        assertThat(lock.tryAcquire()).isTrue();

        broken.set(true);

        await().atMost(Duration.ofMillis(100).plus(SLACK)).until(() -> lost.contains("checked"));
        assertThat(lock.isHeld()).isFalse();
        assertThat(grantedOnServer(lock.key())).as("its connection was dropped, which freed it").isZero();
    }

    /** Connections whose loss check ({@code SELECT 1}) throws a RuntimeException once {@code broken} is set. */
    private static DataSource failingChecks(DataSource real, AtomicBoolean broken) {
        return (DataSource) Proxy.newProxyInstance(DataSource.class.getClassLoader(), new Class<?>[] {DataSource.class},
                (proxy, method, args) -> {
                    Object result = invoke(real, method, args);
                    return result instanceof Connection connection ? checkFailing(connection, broken) : result;
                });
    }

    private static Connection checkFailing(Connection real, AtomicBoolean broken) {
        return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    Object result = invoke(real, method, args);
                    if (result instanceof PreparedStatement statement && "SELECT 1".equals(args[0])) {
                        return Proxy.newProxyInstance(PreparedStatement.class.getClassLoader(),
                                new Class<?>[] {PreparedStatement.class}, (p, m, a) -> {
                                    if (broken.get() && m.getName().equals("executeQuery")) {
                                        throw new IllegalStateException("a driver bug");
                                    }
                                    return invoke(statement, m, a);
                                });
                    }
                    return result;
                });
    }
}
