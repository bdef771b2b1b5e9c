package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.spring.autoconfigure.PalsIntegrationAutoConfiguration;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.expression.spel.standard.SpelExpressionParser;
import org.springframework.integration.config.EnableIntegration;
import org.springframework.integration.handler.AbstractReplyProducingMessageHandler;
import org.springframework.integration.handler.advice.LockRequestHandlerAdvice;
import org.springframework.integration.support.MessageBuilder;
import org.springframework.integration.support.locks.LockRegistry;
import org.springframework.messaging.Message;
import org.springframework.messaging.MessageHandler;

/**
 * Spring Integration 7's {@link LockRequestHandlerAdvice} on advisory locks: a message handler in
 * two instances of a service, locked by the message's {@code key} header.
 */
class LockRequestHandlerAdviceTest extends StarterTestSupport {

    private static final Duration WAIT = Duration.ofMillis(300);

    /** What the handlers of both instances see: work per key in progress, the most at once, what they handled. */
    static final class Work {
        final Map<String, AtomicInteger> inProgress = new ConcurrentHashMap<>();
        final AtomicInteger mostAtOnce = new AtomicInteger();
        final Queue<String> handled = new ConcurrentLinkedQueue<>();
        volatile CountDownLatch held = new CountDownLatch(0);
        volatile CountDownLatch entered = new CountDownLatch(0);
    }

    private final Work work = new Work();

    @Configuration(proxyBeanMethods = false)
    @EnableIntegration
    static class Flow {
        @Bean
        LockRequestHandlerAdvice lockAdvice(LockRegistry<?> locks) {
            LockRequestHandlerAdvice advice = new LockRequestHandlerAdvice(locks,
                    new SpelExpressionParser().parseExpression("headers['key']"));
            advice.setWaitLockDuration(WAIT);
            return advice;
        }

        @Bean
        AbstractReplyProducingMessageHandler handler(LockRequestHandlerAdvice lockAdvice, Work work) {
            AbstractReplyProducingMessageHandler handler = new AbstractReplyProducingMessageHandler() {
                @Override
                protected Object handleRequestMessage(Message<?> message) {
                    String key = (String) message.getHeaders().get("key");
                    AtomicInteger now = work.inProgress.computeIfAbsent(key, k -> new AtomicInteger());
                    work.mostAtOnce.accumulateAndGet(now.incrementAndGet(), Math::max);
                    try {
                        work.entered.countDown();
                        // the work itself: held until the test lets it go, with a bound in case it never does
                        if (!work.held.await(30, TimeUnit.SECONDS)) {
                            throw new IllegalStateException("never let go");
                        }
                        // the work itself takes 20 ms, long enough for another handler to overlap it
                        long done = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
                        while (System.nanoTime() < done) {
                            Thread.onSpinWait();
                        }
                        work.handled.add((String) message.getPayload());
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } finally {
                        now.decrementAndGet();
                    }
                    return null;
                }
            };
            handler.setRequiresReply(false);
            handler.setAdviceChain(List.of(lockAdvice));
            return handler;
        }
    }

    private ApplicationContextRunner service() {
        return instance().withConfiguration(AutoConfigurations.of(PalsIntegrationAutoConfiguration.class))
                .withBean(Work.class, () -> work).withUserConfiguration(Flow.class);
    }

    private static Message<String> message(String payload, String key) {
        return MessageBuilder.withPayload(payload).setHeader("key", key).build();
    }

    @Test
    void messagesWithTheSameKeyAreHandledOneAtATimeAcrossBothInstances() {
        twoInstances(service(), (one, two) -> {
            MessageHandler first = one.getBean("handler", MessageHandler.class);
            MessageHandler second = two.getBean("handler", MessageHandler.class);
            ExecutorService senders = Executors.newFixedThreadPool(8);
            try {
                // each waits longer than all the others' work takes
                one.getBean(LockRequestHandlerAdvice.class).setWaitLockDuration(Duration.ofSeconds(30));
                two.getBean(LockRequestHandlerAdvice.class).setWaitLockDuration(Duration.ofSeconds(30));
                List<CompletableFuture<Void>> sent = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    MessageHandler handler = i % 2 == 0 ? first : second;
                    Message<String> message = message("order-" + i, "customer-7");
                    sent.add(CompletableFuture.runAsync(() -> handler.handleMessage(message), senders));
                }
                CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            } finally {
                senders.shutdownNow();
            }
            assertThat(work.handled).hasSize(8);
            assertThat(work.mostAtOnce).as("handled at once").hasValue(1);
        });
    }

    @Test
    void aMessageWhoseKeyIsLockedInTheOtherInstanceFailsAfterTheWaitWhileOtherKeysPass() {
        twoInstances(service(), (one, two) -> {
            CountDownLatch first = new CountDownLatch(1);
            work.held = first;
            work.entered = new CountDownLatch(1);
            CompletableFuture<Void> holding = CompletableFuture
                    .runAsync(() -> one.getBean("handler", MessageHandler.class).handleMessage(message("first", "customer-1")));
            assertThat(work.entered.await(30, TimeUnit.SECONDS)).isTrue();
            MessageHandler second = two.getBean("handler", MessageHandler.class);

            long start = System.nanoTime();
            assertThatThrownBy(() -> second.handleMessage(message("same key", "customer-1")))
                    .hasRootCauseInstanceOf(TimeoutException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(WAIT);

            work.held = new CountDownLatch(0);
            second.handleMessage(message("other key", "customer-2"));
            assertThat(work.handled).containsExactly("other key");

            // the first message's work ends; the same key then passes in the other instance
            first.countDown();
            holding.get(30, TimeUnit.SECONDS);
            second.handleMessage(message("same key again", "customer-1"));
            assertThat(work.handled).containsExactly("other key", "first", "same key again");
        });
    }
}
