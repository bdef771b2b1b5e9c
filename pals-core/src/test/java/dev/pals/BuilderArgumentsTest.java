package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** Each setting of {@link LockRegistry.Builder} refuses what it cannot use, naming itself and what it accepts. */
class BuilderArgumentsTest extends LockTestSupport {

    private LockRegistry.Builder builder() {
        return LockRegistry.builder(dataSource);
    }

    @Test
    void nullDataSourceIsRefusedNamingIt() {
        assertThatThrownBy(() -> LockRegistry.builder((DataSource) null))
                .isInstanceOf(NullPointerException.class).hasMessage("dataSource");
    }

    @Test
    void blankNamespaceIsRefused() {
        assertThatThrownBy(() -> builder().namespace(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("namespace must not be null or blank");
    }

    @Test
    void nullNamespaceMeansNamesAreHashedWithoutOne() {
        LockRegistry registry = registry(builder().namespace(null));

        assertThat(registry.namespace()).isNull();
        // PALs' key of the bare name
        assertThat(registry.lock("nightly-report").key()).isEqualTo(LockKey.of(7635146791061737145L));
    }

    @Test
    void acquireTimeoutMustBeZeroToLongestWaitOrForever() {
        assertThatThrownBy(() -> builder().acquireTimeout(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("acquireTimeout must not be null");
        assertThatThrownBy(() -> builder().acquireTimeout(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("acquireTimeout must not be negative, but was PT-0.001S");
        assertThatThrownBy(() -> builder().acquireTimeout(LockRegistry.LONGEST_WAIT.plusMillis(1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("acquireTimeout PT596H31M23.648S is longer than PostgreSQL can wait "
                        + "(PT596H31M23.647S)")
                .hasMessageContaining("LockRegistry.FOREVER");

        assertThat(registry(builder().acquireTimeout(Duration.ZERO)).lock("x").timeout()).isZero();
        assertThat(registry(builder().acquireTimeout(LockRegistry.LONGEST_WAIT)).lock("x").timeout())
                .isEqualTo(LockRegistry.LONGEST_WAIT);
        assertThat(registry(builder().acquireTimeout(LockRegistry.FOREVER)).lock("x").timeout())
                .isEqualTo(LockRegistry.FOREVER);
    }

    @Test
    void maxConnectionsMustBeAtLeastOne() {
        assertThatThrownBy(() -> builder().maxConnections(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxConnections must be at least 1, but was 0");
        assertThatThrownBy(() -> builder().maxConnections(-3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxConnections must be at least 1, but was -3");

        assertThatCode(() -> builder().maxConnections(1)).doesNotThrowAnyException();
    }

    @Test
    void idleTimeoutMustNotBeNullOrNegative() {
        assertThatThrownBy(() -> builder().idleTimeout(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("idleTimeout");
        assertThatThrownBy(() -> builder().idleTimeout(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("idleTimeout must not be negative, but was PT-0.001S");

        assertThatCode(() -> builder().idleTimeout(Duration.ZERO)).doesNotThrowAnyException();
    }

    @Test
    void lossCheckIntervalMustBePositive() {
        assertThatThrownBy(() -> builder().lossCheckInterval(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("lossCheckInterval");
        assertThatThrownBy(() -> builder().lossCheckInterval(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("lossCheckInterval must be positive, but was PT0S");
        assertThatThrownBy(() -> builder().lossCheckInterval(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("lossCheckInterval must be positive, but was PT-0.001S");

        assertThatCode(() -> builder().lossCheckInterval(Duration.ofNanos(1))).doesNotThrowAnyException();
    }

    @Test
    void networkTimeoutMustBePositiveAndAtMostTheLongestWait() {
        assertThatThrownBy(() -> builder().networkTimeout(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("networkTimeout");
        assertThatThrownBy(() -> builder().networkTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("networkTimeout must be positive and at most PT596H31M23.647S, but was PT0S");
        assertThatThrownBy(() -> builder().networkTimeout(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("networkTimeout must be positive and at most PT596H31M23.647S, but was PT-0.001S");
        assertThatThrownBy(() -> builder().networkTimeout(LockRegistry.LONGEST_WAIT.plusMillis(1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("networkTimeout must be positive and at most PT596H31M23.647S, "
                        + "but was PT596H31M23.648S");

        assertThatCode(() -> builder().networkTimeout(Duration.ofNanos(1)).networkTimeout(LockRegistry.LONGEST_WAIT))
                .doesNotThrowAnyException();
    }

    @Test
    void silentClientTimeoutMustBeTwoSecondsToEighteenHours() {
        assertThatThrownBy(() -> builder().silentClientTimeout(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("silentClientTimeout");
        assertThatThrownBy(() -> builder().silentClientTimeout(Duration.ofMillis(1999)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("silentClientTimeout must be at least 2 s and at most PT18H, but was PT1.999S");
        assertThatThrownBy(() -> builder().silentClientTimeout(Duration.ofHours(18).plusSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("silentClientTimeout must be at least 2 s and at most PT18H, but was PT18H1S");

        assertThatCode(() -> builder().silentClientTimeout(Duration.ofSeconds(2)).silentClientTimeout(Duration.ofHours(18)))
                .doesNotThrowAnyException();
    }

    @Test
    void silentClientTimeoutIsKeptInWholeSeconds() {
        LockRegistry registry = registry(builder().silentClientTimeout(Duration.ofMillis(20_900)));

        assertThat(registry.leaseBounds().silentClientTimeout()).isEqualTo(Duration.ofSeconds(20));
    }

    @Test
    void nullListenerOrObserverIsRefusedNamingIt() {
        assertThatThrownBy(() -> builder().lossListener(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("listener");
        assertThatThrownBy(() -> builder().observer(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("observer");
    }
}
