package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pals.LockKey;
import dev.pals.LockLostException;
import dev.pals.LockRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * {@code pals.interrupt-on-loss} for the methods that hold more than one lock: the loss of one
 * member of a {@code names} set, or of a {@code permits} permit, interrupts the thread in the call,
 * and the interrupt ends with the call. The methods keep the interrupt status they see (they park,
 * which leaves it set), so that an interrupt the interceptor did not clear would outlive the call.
 */
class SetAndPermitLossTest extends StarterTestSupport {

    private static final Duration LOSS_CHECK_INTERVAL = Duration.ofMillis(200);
    private static final Duration NETWORK_TIMEOUT = Duration.ofSeconds(1);
    /** The promise, one loss check and its statement's timeout, with slack for a slow machine. */
    private static final Duration LOSS_NOTICED = LOSS_CHECK_INTERVAL.plus(NETWORK_TIMEOUT).plusSeconds(2);

    private final ExecutorService executor = Executors.newCachedThreadPool();

    @AfterEach
    void stopExecutor() {
        executor.shutdownNow();
    }

    @Test
    void lossOfOneMemberOfASetInterruptsTheCallWhichThrowsLockLostAndLeavesNoInterruptBehind() {
        lossy().run(context -> {
            Sections sections = context.getBean(Sections.class);
            CountDownLatch entered = new CountDownLatch(1);
            Future<Boolean> call = executor.submit(interruptStatusAfter(() -> sections.transfer(entered)));
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();

            terminateHolderOf(context.getBean(LockRegistry.class).lock("account:A").key());

            assertLostAndInterruptCleared(call, sections);
        });
    }

    @Test
    void lossOfAPermitInterruptsTheCallWhichThrowsLockLostAndLeavesNoInterruptBehind() {
        lossy().run(context -> {
            Sections sections = context.getBean(Sections.class);
            CountDownLatch entered = new CountDownLatch(1);
            Future<Boolean> call = executor.submit(interruptStatusAfter(() -> sections.export(entered)));
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();

            DB.terminateSessions(namespace + "-locks@%");

            assertLostAndInterruptCleared(call, sections);
        });
    }

    /** The method ended early, interrupted; its caller was told of the loss; the thread is not interrupted after. */
    private static void assertLostAndInterruptCleared(Future<Boolean> call, Sections sections) throws Exception {
        assertThat(call.get(LOSS_NOTICED.toMillis(), TimeUnit.MILLISECONDS))
                .as("the thread's interrupt status after the call").isFalse();
        assertThat(sections.sawInterrupt()).as("the method saw the interrupt").isTrue();
    }

    /**
     * Runs {@code locked}, which must throw its loss to its caller, and answers whether the thread
     * is still interrupted afterwards.
     */
    private static Callable<Boolean> interruptStatusAfter(Callable<?> locked) {
        return () -> {
            try {
                locked.call();
            } catch (LockLostException lost) {
                return Thread.currentThread().isInterrupted();
            }
            throw new AssertionError("the call returned although its lock was lost");
        };
    }

    /** Ends the PostgreSQL session that holds {@code key}, and so that member of the set only. */
    private static void terminateHolderOf(LockKey key) throws Exception {
        try (Connection connection = DB.connect(); PreparedStatement terminate = connection.prepareStatement(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        + "AND classid = ? AND objid = ? AND objsubid = ?")) {
            terminate.setLong(1, key.classId());
            terminate.setLong(2, key.objId());
            terminate.setInt(3, key.objSubId());
            terminate.execute();
        }
    }

    private ApplicationContextRunner lossy() {
        return instance().withPropertyValues("pals.loss-check-interval=" + LOSS_CHECK_INTERVAL.toMillis() + "ms",
                "pals.network-timeout=" + NETWORK_TIMEOUT.toMillis() + "ms", "pals.interrupt-on-loss=true")
                .withUserConfiguration(Fixture.class);
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Sections sections() {
            return new Sections();
        }
    }

    /** Methods that wait until they are interrupted, for at most a minute, and return. */
    static class Sections {
        private volatile boolean interrupted;

        public boolean sawInterrupt() {
            return interrupted;
        }

        @AdvisoryLocked(names = {"account:A", "account:B"})
        public String transfer(CountDownLatch entered) {
            entered.countDown();
            return untilInterrupted();
        }

        @AdvisoryLocked(name = "exports", permits = 2)
        public String export(CountDownLatch entered) {
            entered.countDown();
            return untilInterrupted();
        }

        private String untilInterrupted() {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
            while (!Thread.currentThread().isInterrupted() && deadline - System.nanoTime() > 0) {
                LockSupport.parkNanos(this, deadline - System.nanoTime());
            }
            interrupted = Thread.currentThread().isInterrupted();
            return "done";
        }
    }
}
