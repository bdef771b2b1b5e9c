package dev.pals.spring.aop;

import dev.pals.LockRegistry;
import dev.pals.spring.LockScope;
import dev.pals.spring.autoconfigure.PalsAutoConfiguration;
import dev.pals.spring.autoconfigure.PalsProperties;
import javax.sql.DataSource;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Role;
import org.springframework.core.env.Environment;

/**
 * Auto-configuration of {@code @AdvisoryLocked}: the two advisors, one per {@link LockScope}, and
 * the {@link LockedMethods} they share. The advisors stay when there is no registry to lock with,
 * so that a locked method fails start-up rather than running unlocked. Exclude this class to turn
 * the annotation off while keeping the {@link LockRegistry} bean.
 */
@AutoConfiguration(after = PalsAutoConfiguration.class)
@ConditionalOnClass(LockRegistry.class)
@ConditionalOnBooleanProperty(name = "pals.enabled", matchIfMissing = true)
public final class AdvisoryLockedAutoConfiguration {

    /**
     * Made before properties beans can be injected, as every advisor's dependency is, so it binds the
     * settings itself, into the same class and so through the same checks.
     */
    @Bean
    @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
    static LockedMethods palsLockedMethods(Environment environment) {
        return new LockedMethods(properties(environment).getAcquireTimeout());
    }

    /** Outside {@code @Transactional} on the same method: the lock wraps the transaction. */
    @Bean
    @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
    static AdvisoryLockedAdvisor palsSessionLockAdvisor(Environment environment, LockedMethods palsLockedMethods,
            ObjectProvider<LockRegistry> registry, ObjectProvider<DataSource> dataSource, BeanFactory beanFactory) {
        PalsProperties properties = properties(environment);
        return AdvisoryLockedAdvisor.of(LockScope.SESSION, properties.getAdvisorOrder(), palsLockedMethods,
                properties.isInterruptOnLoss(), registry, dataSource, beanFactory);
    }

    /** Inside {@code @Transactional} on the same method: the lock lives in the transaction. */
    @Bean
    @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
    static AdvisoryLockedAdvisor palsTransactionLockAdvisor(Environment environment,
            LockedMethods palsLockedMethods, ObjectProvider<LockRegistry> registry,
            ObjectProvider<DataSource> dataSource, BeanFactory beanFactory) {
        return AdvisoryLockedAdvisor.of(LockScope.TRANSACTION, properties(environment).getAdvisorOrder(),
                palsLockedMethods, false, registry, dataSource, beanFactory);
    }

    private static PalsProperties properties(Environment environment) {
        return Binder.get(environment).bindOrCreate("pals", PalsProperties.class);
    }
}
