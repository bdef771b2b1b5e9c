package dev.pals.shedlock;

import dev.pals.LockRegistry;
import net.javacrumbs.shedlock.core.LockProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.context.annotation.Bean;

/**
 * ShedLock on advisory locks, when ShedLock is on the classpath, the service has a
 * {@link LockRegistry} (the PALs starter's) and no {@code LockProvider} of its own: its
 * {@code @SchedulerLock} methods then lock on the registry, with no table.
 */
@AutoConfiguration(afterName = "dev.pals.spring.autoconfigure.PalsAutoConfiguration")
@ConditionalOnClass(LockProvider.class)
@ConditionalOnSingleCandidate(LockRegistry.class)
public final class PalsShedLockAutoConfiguration {

    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean(LockProvider.class)
    AdvisoryLockProvider palsShedLockProvider(LockRegistry registry) {
        return new AdvisoryLockProvider(registry);
    }
}
