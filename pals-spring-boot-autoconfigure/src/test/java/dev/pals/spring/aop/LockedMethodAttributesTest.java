package dev.pals.spring.aop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.LockMode;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.LockScope;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Publisher;
import reactor.core.publisher.ConnectableFlux;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** What the attributes of a valid {@code @AdvisoryLocked} resolve to, and where their limits lie. */
class LockedMethodAttributesTest {

    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(7);

    private final LockedMethods lockedMethods = new LockedMethods(DEFAULT_TIMEOUT);

    @Test
    void blockingMethodWithoutTimeoutWaitsTheConfiguredDefault() {
        LockedMethod locked = find("plain");

        assertThat(locked.blocking()).isTrue();
        assertThat(locked.timeout()).isEqualTo(DEFAULT_TIMEOUT);
        assertThat(locked.mode()).isEqualTo(LockMode.EXCLUSIVE);
        assertThat(locked.holdAtLeast()).isZero();
    }

    @Test
    void timeoutForeverInAnyCaseWaitsWithoutLimit() {
        assertThat(find("forever").timeout()).isEqualTo(LockRegistry.FOREVER);
        assertThat(find("foreverUpperCase").timeout()).isEqualTo(LockRegistry.FOREVER);
    }

    @Test
    void nonBlockingMethodDoesNotWait() {
        LockedMethod locked = find("nonBlocking");

        assertThat(locked.blocking()).isFalse();
        assertThat(locked.timeout()).isZero();
    }

    @Test
    void attributesAreTakenAsWritten() {
        LockedMethod locked = find("everything");

        assertThat(locked.name().source()).isEqualTo("'account:' + #id");
        assertThat(locked.timeout()).isEqualTo(Duration.ofMillis(1500));
        assertThat(locked.holdAtLeast()).isEqualTo(Duration.ofSeconds(30));
        assertThat(locked.mode()).isEqualTo(LockMode.SHARED);
        assertThat(locked.options().group()).isEqualTo("account");
    }

    @Test
    void groupDefaultsToTheNameTemplate() {
        assertThat(find("byId").options().group()).isEqualTo("'account:' + #id");
    }

    @Test
    void longestDurationIsAcceptedAndOneMillisecondMoreIsRejected() {
        assertThat(find("longestTimeout").timeout()).isEqualTo(LockRegistry.LONGEST_WAIT);
        assertThat(find("longestHoldAtLeast").holdAtLeast()).isEqualTo(LockRegistry.LONGEST_WAIT);

        assertThatThrownBy(() -> find("tooLongTimeout"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.tooLongTimeout(): timeout = \"2147483648ms\"")
                .hasMessageContaining("longer than about 24 days");
    }

    @Test
    void finalMethodIsRejectedNamingOnlyTheModifierThatStopsTheProxy() {
        assertThatThrownBy(() -> find("finalMethod"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.finalMethod(): the method is final, so ");
    }

    @Test
    void methodReturningAPlainValueIsAccepted() {
        assertThat(find("value").returnKind()).isEqualTo(LockedMethod.ReturnKind.OTHER);
    }

    @Test
    void methodReturningAMonoIsReactive() {
        assertThat(find("reactive").returnKind()).isEqualTo(LockedMethod.ReturnKind.REACTIVE);
    }

    @Test
    void methodReturningAPublisherIsReactive() {
        assertThat(find("publisher").returnKind()).isEqualTo(LockedMethod.ReturnKind.REACTIVE);
    }

    @Test
    void methodReturningACompletableFutureIsACompletionStageNotReactive() {
        assertThat(find("stage").returnKind()).isEqualTo(LockedMethod.ReturnKind.COMPLETION_STAGE);
    }

    @Test
    void methodReturningASubclassOfFluxIsRejected() {
        // the adapter's Flux cannot be returned where a ConnectableFlux is expected
        assertThatThrownBy(() -> find("connectable"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.connectable(): it returns ConnectableFlux, ")
                .hasMessageContaining("declare the method to return Flux");
    }

    @Test
    void reactiveMethodInTransactionScopeIsLockedInItsReactiveTransactionWhereR2dbcIsPresent() {
        LockedMethod locked = find("reactiveInTransaction");
        assertThat(locked.returnKind()).isEqualTo(LockedMethod.ReturnKind.REACTIVE);
        assertThat(locked.scope()).isEqualTo(LockScope.TRANSACTION);
    }

    @Test
    void futureThatIsNotAStageIsRejectedWhateverInterfaceItComesBy() {
        assertThatThrownBy(() -> find("scheduledFuture"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.scheduledFuture(): it returns ScheduledFuture, "
                        + "whose work runs after the call returns");
    }

    private LockedMethod find(String name) {
        Method method = Arrays.stream(Fixtures.class.getDeclaredMethods())
                .filter(m -> m.getName().equals(name))
                .findFirst()
                .orElseThrow();
        LockedMethod locked = lockedMethods.find(method, Fixtures.class);
        assertThat(locked).as(name).isNotNull();
        return locked;
    }

    /** Stand-ins for locked methods; only their annotations and signatures matter. */
    static class Fixtures {

        @AdvisoryLocked("job")
        public void plain() {
        }

        @AdvisoryLocked(name = "job", timeout = "forever")
        public void forever() {
        }

        @AdvisoryLocked(name = "job", timeout = " FOREVER ")
        public void foreverUpperCase() {
        }

        @AdvisoryLocked(name = "job", blocking = false)
        public void nonBlocking() {
        }

        @AdvisoryLocked(name = "'account:' + #id", timeout = "1500ms", holdAtLeast = "30s", mode = LockMode.SHARED,
                group = "account")
        public void everything(long id) {
        }

        @AdvisoryLocked("'account:' + #id")
        public void byId(long id) {
        }

        @AdvisoryLocked(name = "job", timeout = "2147483647ms")
        public void longestTimeout() {
        }

        @AdvisoryLocked(name = "job", holdAtLeast = "2147483647ms")
        public void longestHoldAtLeast() {
        }

        @AdvisoryLocked(name = "job", timeout = "2147483648ms")
        public void tooLongTimeout() {
        }

        @AdvisoryLocked("job")
        public final void finalMethod() {
        }

        @AdvisoryLocked("job")
        public String value() {
            return "x";
        }

        @AdvisoryLocked("job")
        public Mono<String> reactive() {
            return Mono.just("x");
        }

        @AdvisoryLocked("job")
        public Publisher<String> publisher() {
            return Mono.just("x");
        }

        @AdvisoryLocked("job")
        public CompletableFuture<String> stage() {
            return CompletableFuture.completedFuture("x");
        }

        @AdvisoryLocked(name = "job", scope = LockScope.TRANSACTION)
        public Mono<String> reactiveInTransaction() {
            return Mono.just("x");
        }

        @AdvisoryLocked("job")
        public @Nullable ScheduledFuture<String> scheduledFuture() {
            return null;
        }

        @AdvisoryLocked("job")
        public ConnectableFlux<String> connectable() {
            return Flux.just("x").publish();
        }
    }
}
