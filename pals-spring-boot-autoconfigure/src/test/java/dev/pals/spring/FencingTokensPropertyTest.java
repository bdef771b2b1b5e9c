package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.HeldLock;
import dev.pals.LockRegistry;
import dev.pals.spring.aop.AdvisoryLocks;
import org.junit.jupiter.api.Test;

/** {@code pals.fencing-tokens}: the registry bean hands out fencing tokens only when it is set. */
class FencingTokensPropertyTest extends StarterTestSupport {

    @Test
    void fencingTokensCreateGivesTheHoldersOfTwoInstancesGrowingTokens() {
        twoInstances(instance().withPropertyValues("pals.fencing-tokens=create"), (one, two) -> {
            long first;
            try (HeldLock held = one.getBean(LockRegistry.class).lock("export").hold()) {
                first = held.fencingToken();
            }
            try (HeldLock held = two.getBean(LockRegistry.class).lock("export").hold()) {
                assertThat(held.fencingToken()).isGreaterThan(first);
            }
        });
    }

    @Test
    void withoutFencingTokensSetAHolderGetsNone() {
        instance().run(context -> {
            try (HeldLock held = context.getBean(LockRegistry.class).lock("export").hold()) {
                assertThatThrownBy(held::fencingToken).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("pals.fencing-tokens");
            }
        });
    }

    @Test
    void anInMemoryRegistryTakesTheSettingToo() {
        bareRunner().withPropertyValues("pals.in-memory=true", "pals.fencing-tokens=require").run(context -> {
            try (HeldLock held = context.getBean(LockRegistry.class).lock("export").hold()) {
                assertThat(held.fencingToken()).isPositive();
            }
        });
    }

    /** A job that sends its lock's fencing token with its write. */
    static class Exporter {
        @AdvisoryLocked(name = "export", blocking = false)
        public long export() {
            return AdvisoryLocks.fencingToken();
        }

        public long outsideTheLock() {
            return AdvisoryLocks.fencingToken();
        }
    }

    @Test
    void aLockedMethodReadsItsFencingTokenAndEachLaterCallOnEitherInstanceGetsAGreaterOne() {
        twoInstances(instance().withPropertyValues("pals.fencing-tokens=create").withBean(Exporter.class),
                (one, two) -> {
                    long first = one.getBean(Exporter.class).export();
                    long second = two.getBean(Exporter.class).export();
                    long third = one.getBean(Exporter.class).export();

                    assertThat(second).isGreaterThan(first);
                    assertThat(third).isGreaterThan(second);
                    assertThatThrownBy(() -> one.getBean(Exporter.class).outsideTheLock())
                            .isInstanceOf(IllegalStateException.class).hasMessageContaining("0 session locks");
                });
    }
}
