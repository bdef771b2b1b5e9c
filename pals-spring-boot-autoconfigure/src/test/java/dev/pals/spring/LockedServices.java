package dev.pals.spring;

import dev.pals.LockMode;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Services written as users write theirs, for the tests to call through their Spring proxies. */
final class LockedServices {

    private LockedServices() {
    }

    @Configuration(proxyBeanMethods = false)
    static class Fixture {
        @Bean
        Jobs jobs(Inner inner) {
            return new Jobs(inner);
        }

        @Bean
        Inner inner() {
            return new Inner();
        }

        @Bean
        ClassLocked classLocked() {
            return new ClassLocked();
        }

        @Bean
        MetaLocked metaLocked() {
            return new MetaLocked();
        }

        @Bean
        Api api() {
            return new ApiImpl();
        }
    }

    static class Jobs {

        private final AtomicInteger runs = new AtomicInteger();
        private final Inner inner;

        Jobs(Inner inner) {
            this.inner = inner;
        }

        /** How many locked bodies ran; a method, because a proxy's fields are not the target's. */
        public int runs() {
            return runs.get();
        }

        @AdvisoryLocked(name = "#name")
        public void fail(String name) {
            throw new IllegalStateException("boom");
        }

        @AdvisoryLocked(name = "#name", timeout = "30s")
        public void holdWhile(String name, CountDownLatch entered, CountDownLatch release) throws InterruptedException {
            entered.countDown();
            release.await(60, TimeUnit.SECONDS);
        }

        @AdvisoryLocked(name = "#name", blocking = false)
        public String tryRun(String name) {
            runs.incrementAndGet();
            return "ran";
        }

        @AdvisoryLocked(name = "#name", timeout = "30s")
        public long waitRun(String name) {
            runs.incrementAndGet();
            return System.nanoTime();
        }

        @AdvisoryLocked(name = "#name", timeout = "200ms")
        public String waitBriefly(String name) {
            runs.incrementAndGet();
            return "ran";
        }

        @AdvisoryLocked(name = "#name", blocking = false, onContention = OnContention.SKIP)
        public void skipVoid(String name) {
            runs.incrementAndGet();
        }

        @AdvisoryLocked(name = "#name", blocking = false, onContention = OnContention.SKIP)
        public Optional<String> skipOptional(String name) {
            runs.incrementAndGet();
            return Optional.of("ran");
        }

        @AdvisoryLocked(name = "#name", blocking = false, onContention = OnContention.SKIP)
        public String skipOther(String name) {
            runs.incrementAndGet();
            return "ran";
        }

        @AdvisoryLocked(name = "#name", mode = LockMode.SHARED, timeout = "30s")
        public boolean readTogether(String name, CountDownLatch bothInside) throws InterruptedException {
            bothInside.countDown();
            return bothInside.await(30, TimeUnit.SECONDS);
        }

        @AdvisoryLocked(name = "#name")
        public CompletableFuture<String> async(String name, CompletableFuture<String> result) {
            return result;
        }

        @AdvisoryLocked(name = "'account:' + #id", blocking = false)
        public String account(long id, CountDownLatch entered, CountDownLatch release) throws InterruptedException {
            entered.countDown();
            release.await(60, TimeUnit.SECONDS);
            return "account " + id;
        }

        @AdvisoryLocked(name = "#name", timeout = "1s")
        public String outer(String name) {
            return inner.inner(name);
        }

        @AdvisoryLocked(name = "#name", mode = LockMode.SHARED, timeout = "1s")
        public String sharedOuter(String name) {
            return inner.inner(name);
        }
    }

    static class Inner {
        @AdvisoryLocked(name = "#name", timeout = "1s")
        public String inner(String name) {
            return "inner ran";
        }
    }

    @AdvisoryLocked(name = "class-level", blocking = false)
    static class ClassLocked {
        public String first(CountDownLatch entered, CountDownLatch release) throws InterruptedException {
            entered.countDown();
            release.await(60, TimeUnit.SECONDS);
            return "first";
        }

        public String second() {
            return "second";
        }

        /** No proxy can lock a static method, so the class's annotation must leave it alone. */
        public static ClassLocked create() {
            return new ClassLocked();
        }

        @Override
        public String toString() {
            return "class-locked";
        }
    }

    @Target(ElementType.METHOD)
    @Retention(RetentionPolicy.RUNTIME)
    @AdvisoryLocked(name = "meta-job", blocking = false)
    @interface NightlyJob {
    }

    static class MetaLocked {
        @NightlyJob
        public String run(CountDownLatch entered, CountDownLatch release) throws InterruptedException {
            entered.countDown();
            release.await(60, TimeUnit.SECONDS);
            return "meta";
        }

        @NightlyJob
        public String tryRun() {
            return "meta ran";
        }
    }

    interface Api {
        @AdvisoryLocked(name = "interface-job", blocking = false)
        String call(CountDownLatch entered, CountDownLatch release) throws InterruptedException;

        @AdvisoryLocked(name = "interface-job", blocking = false)
        String tryCall();
    }

    static class ApiImpl implements Api {
        @Override
        public String call(CountDownLatch entered, CountDownLatch release) throws InterruptedException {
            entered.countDown();
            release.await(60, TimeUnit.SECONDS);
            return "api";
        }

        @Override
        public String tryCall() {
            return "api ran";
        }
    }
}
