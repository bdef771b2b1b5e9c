package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.HeldLock;
import dev.pals.LockRegistry;
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
}
