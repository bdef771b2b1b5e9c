package dev.pals.spring.aop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.LockMode;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
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
    void methodReturningAMonoIsRejected() {
        // Mono is a Publisher only through CorePublisher, an interface of an interface
        assertThatThrownBy(() -> find("reactive"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.reactive(): it returns Mono, whose work runs "
                        + "after the call returns");
    }

    @Test
    void methodReturningASubclassOfFluxIsRejected() {
        assertThatThrownBy(() -> find("connectable"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.connectable(): it returns ConnectableFlux, ");
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
        public ConnectableFlux<String> connectable() {
            return Flux.just("x").publish();
        }
    }
}
