package dev.pals.shedlock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.zaxxer.hikari.HikariDataSource;
import dev.pals.LockLostException;
import dev.pals.LockRegistry;
import dev.pals.testing.TestDatabase;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import net.javacrumbs.shedlock.core.ClockProvider;
import net.javacrumbs.shedlock.core.DefaultLockingTaskExecutor;
import net.javacrumbs.shedlock.core.LockAssert;
import net.javacrumbs.shedlock.core.LockConfiguration;
import net.javacrumbs.shedlock.core.LockExtender;
import net.javacrumbs.shedlock.core.LockingTaskExecutor;
import net.javacrumbs.shedlock.core.SimpleLock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * ShedLock's provider contract on the real server, across two instances of a service: each
 * {@link Instance} has its own pool, registry and provider, as two JVMs would.
 */
class AdvisoryLockProviderTest {

    private static final TestDatabase DB = TestDatabase.get();
    private static final Duration LONG = Duration.ofMinutes(10);

    private final String namespace = TestDatabase.uniqueName("shed-");
    private final String name = TestDatabase.uniqueName("job-");
    private final ListAppender<ILoggingEvent> log = new ListAppender<>();
    private Instance one;
    private Instance two;

    /** One instance of the service: its pool, its registry (whose losses it records), its provider. */
    private record Instance(HikariDataSource pool, LockRegistry registry, AdvisoryLockProvider provider,
            List<LockLostException> losses) implements AutoCloseable {

        static Instance start(String namespace) {
            HikariDataSource pool = DB.dataSource(4);
            List<LockLostException> losses = new CopyOnWriteArrayList<>();
            LockRegistry registry = LockRegistry.builder(pool).namespace(namespace)
                    .lossCheckInterval(Duration.ofMillis(100))
                    .lossListener((lock, cause) -> losses.add(cause)).build();
            return new Instance(pool, registry, new AdvisoryLockProvider(registry), losses);
        }

        @Override
        public void close() {
            provider.close();
            registry.close();
            pool.close();
        }
    }

    @BeforeEach
    void start() {
        one = Instance.start(namespace);
        two = Instance.start(namespace);
        log.start();
        providerLogger().addAppender(log);
    }

    @AfterEach
    void stop() {
        providerLogger().detachAppender(log);
        one.close();
        two.close();
    }

    private static Logger providerLogger() {
        return (Logger) LoggerFactory.getLogger(AdvisoryLockProvider.class);
    }

    private LockConfiguration config(Duration atMost, Duration atLeast) {
        return new LockConfiguration(ClockProvider.now(), name, atMost, atLeast);
    }

    /** Whether {@code instance} could take the lock now; gives it back at once if it could. */
    private boolean canTake(Instance instance) {
        Optional<SimpleLock> lock = instance.provider.lock(config(LONG, Duration.ZERO));
        lock.ifPresent(SimpleLock::unlock);
        return lock.isPresent();
    }

    private List<String> warnings(String containing) {
        return log.list.stream().filter(event -> event.getLevel() == Level.WARN)
                .map(ILoggingEvent::getFormattedMessage).filter(message -> message.contains(containing)).toList();
    }

    @Test
    void lockIsTakenWhenNoOneHoldsIt() {
        Optional<SimpleLock> lock = one.provider.lock(config(LONG, Duration.ZERO));

        assertThat(lock).isPresent();
        assertThat(one.registry.heldLocks()).isEqualTo(1);
    }

    @Test
    void secondInstanceIsRefusedWhileTheLockIsHeld() {
        assertThat(one.provider.lock(config(LONG, Duration.ZERO))).isPresent();

        assertThat(two.provider.lock(config(LONG, Duration.ZERO))).isEmpty();
    }

    @Test
    void anotherCallerOfTheSameInstanceIsRefusedWhileTheLockIsHeld() {
        assertThat(one.provider.lock(config(LONG, Duration.ZERO))).isPresent();

        assertThat(one.provider.lock(config(LONG, Duration.ZERO))).isEmpty();
    }

    @Test
    void unlockReleasesAtOnceWithoutLockAtLeastFor() {
        SimpleLock lock = one.provider.lock(config(LONG, Duration.ZERO)).orElseThrow();

        lock.unlock();

        assertThat(canTake(two)).isTrue();
    }

    @Test
    void unlockReleasesAtOnceAConfigurationMadeWithInstantNow() {
        for (int i = 0; i < 5; i++) {
            // finer than ShedLock's clock, which counts whole milliseconds
            SimpleLock lock = one.provider.lock(new LockConfiguration(Instant.now(), name, LONG, Duration.ZERO))
                    .orElseThrow();

            lock.unlock();

            assertThat(canTake(two)).isTrue();
        }
    }

    @Test
    void unlockKeepsTheLockUntilLockAtLeastFor() {
        long taken = System.nanoTime();
        SimpleLock lock = one.provider.lock(config(LONG, Duration.ofSeconds(1))).orElseThrow();

        lock.unlock();

        assertThat(canTake(two)).isFalse();
        await().atMost(Duration.ofSeconds(5)).until(() -> canTake(two));
        assertThat(Duration.ofNanos(System.nanoTime() - taken)).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void lockAtMostForReleasesARunningTaskAndWarns() {
        long taken = System.nanoTime();
        assertThat(one.provider.lock(config(Duration.ofMillis(300), Duration.ZERO))).isPresent();

        await().atMost(Duration.ofSeconds(5)).until(() -> canTake(two));

        assertThat(Duration.ofNanos(System.nanoTime() - taken)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        assertThat(warnings("reached its lockAtMostFor")).singleElement().asString()
                .contains("'" + name + "'", "PT0.3S", "still running (for PT");
    }

    @Test
    void unlockAfterTheBoundWarnsAndLeavesTheNextHolderAlone() {
        SimpleLock late = one.provider.lock(config(Duration.ofMillis(200), Duration.ZERO)).orElseThrow();
        await().atMost(Duration.ofSeconds(5)).until(() -> one.registry.heldLocks() == 0);
        assertThat(two.provider.lock(config(LONG, Duration.ZERO))).isPresent();

        late.unlock();

        assertThat(warnings("beyond its lockAtMostFor")).singleElement().asString()
                .contains("'" + name + "'", "PT0.2S", "ended after PT");
        assertThat(canTake(one)).isFalse();
        assertThat(two.registry.heldLocks()).isEqualTo(1);
    }

    @Test
    void unlockRacingTheBoundReleasesExactlyOnce() {
        for (int i = 0; i < 200; i++) {
            SimpleLock lock = one.provider.lock(config(Duration.ofMillis(1), Duration.ZERO)).orElseThrow();
            // jitter around the bound, so that either side wins some rounds
            LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(2_000_000));
            assertThatCode(lock::unlock).doesNotThrowAnyException();
            await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(1)).atMost(Duration.ofSeconds(2))
                    .until(() -> one.registry.heldLocks() == 0);
        }

        // every round the bound won, and only those, the task's unlock found the lock released
        assertThat(warnings("beyond its lockAtMostFor")).hasSameSizeAs(warnings("reached its lockAtMostFor"));
        assertThat(canTake(two)).isTrue();
    }

    @Test
    void extendMovesTheBoundFromNow() {
        SimpleLock lock = one.provider.lock(config(Duration.ofMillis(300), Duration.ZERO)).orElseThrow();

        SimpleLock extended = lock.extend(Duration.ofSeconds(5), Duration.ZERO).orElseThrow();

        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> !canTake(two));
        extended.unlock();
        assertThat(canTake(two)).isTrue();
        assertThat(warnings("lockAtMostFor")).isEmpty();
    }

    @Test
    void theLockBeforeAnExtendIsInvalid() {
        SimpleLock lock = one.provider.lock(config(LONG, Duration.ZERO)).orElseThrow();
        assertThat(lock.extend(LONG, Duration.ZERO)).isPresent();

        assertThatThrownBy(lock::unlock).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> lock.extend(LONG, Duration.ZERO)).isInstanceOf(IllegalStateException.class);
        assertThat(canTake(two)).isFalse();
    }

    @Test
    void extendAfterTheBoundAnswersEmpty() {
        SimpleLock lock = one.provider.lock(config(Duration.ofMillis(100), Duration.ZERO)).orElseThrow();
        await().atMost(Duration.ofSeconds(5)).until(() -> one.registry.heldLocks() == 0);

        assertThat(lock.extend(LONG, Duration.ZERO)).isEmpty();
        assertThat(canTake(two)).isTrue();
    }

    @Test
    void lockExtenderExtendsTheLockOfARunningTask() throws Exception {
        DefaultLockingTaskExecutor executor = new DefaultLockingTaskExecutor(one.provider);
        CountDownLatch extended = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        ExecutorService thread = Executors.newSingleThreadExecutor();
        try {
            Future<?> task = thread.submit(() -> {
                try {
                    executor.executeWithLock((LockingTaskExecutor.Task) () -> {
                        LockExtender.extendActiveLock(Duration.ofSeconds(5), Duration.ZERO);
                        extended.countDown();
                        assertThat(finish.await(10, TimeUnit.SECONDS)).isTrue();
                    }, config(Duration.ofMillis(300), Duration.ZERO));
                } catch (Throwable e) {
                    throw new AssertionError(e);
                }
            });
            assertThat(extended.await(5, TimeUnit.SECONDS)).isTrue();

            // past the first bound of 300 ms, the extended lock still holds
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> !canTake(two));
            finish.countDown();
            task.get(5, TimeUnit.SECONDS);
        } finally {
            thread.shutdownNow();
        }
        assertThat(canTake(two)).isTrue();
        assertThat(warnings("lockAtMostFor")).isEmpty();
    }

    @Test
    void lockAssertPassesInsideTheExecutorsTaskAndFailsOutside() throws Throwable {
        DefaultLockingTaskExecutor executor = new DefaultLockingTaskExecutor(one.provider);
        List<Throwable> inside = new CopyOnWriteArrayList<>();

        executor.executeWithLock((LockingTaskExecutor.Task) () -> {
            try {
                LockAssert.assertLocked();
            } catch (IllegalStateException e) {
                inside.add(e);
            }
        }, config(LONG, Duration.ZERO));

        assertThat(inside).isEmpty();
        assertThatThrownBy(LockAssert::assertLocked).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void crashOfAHolderFreesTheLockAtOnce() throws Exception {
        assertThat(one.provider.lock(config(LONG, Duration.ZERO))).isPresent();

        DB.terminateSessions(one.pool.getPoolName());

        // not after lockAtMostFor (10 minutes): as soon as the server ended the holder's session
        await().atMost(Duration.ofSeconds(5)).until(() -> canTake(two));
    }

    @Test
    void unlockAfterALossLogsAndDoesNotThrow() throws Exception {
        SimpleLock lock = one.provider.lock(config(LONG, Duration.ZERO)).orElseThrow();
        DB.terminateSessions(one.pool.getPoolName());
        await().atMost(Duration.ofSeconds(5)).until(() -> !one.losses.isEmpty());

        assertThatCode(lock::unlock).doesNotThrowAnyException();

        assertThat(one.losses).singleElement().extracting(LockLostException::lockName).isEqualTo(name);
        assertThat(warnings("was lost while held")).singleElement().asString().contains("'" + name + "'");
    }

    @Test
    void extendAfterALossAnswersEmpty() throws Exception {
        SimpleLock lock = one.provider.lock(config(LONG, Duration.ZERO)).orElseThrow();
        DB.terminateSessions(one.pool.getPoolName());
        await().atMost(Duration.ofSeconds(5)).until(() -> !one.losses.isEmpty());

        assertThat(lock.extend(LONG, Duration.ZERO)).isEmpty();
        assertThat(warnings("was lost while held")).singleElement().asString().contains("'" + name + "'");
    }

    @Test
    void inMemoryRegistryRefusesASecondCallerUntilUnlock() {
        try (LockRegistry registry = LockRegistry.inMemory().build();
                AdvisoryLockProvider provider = new AdvisoryLockProvider(registry)) {
            SimpleLock lock = provider.lock(config(LONG, Duration.ZERO)).orElseThrow();
            assertThat(provider.lock(config(LONG, Duration.ZERO))).isEmpty();

            lock.unlock();

            assertThat(provider.lock(config(LONG, Duration.ZERO))).isPresent();
        }
    }

    @Test
    void closedProviderRefusesToLock() {
        one.provider.close();

        assertThatThrownBy(() -> one.provider.lock(config(LONG, Duration.ZERO)))
                .isInstanceOf(IllegalStateException.class);
        assertThat(one.registry.heldLocks()).isZero();
    }
}
