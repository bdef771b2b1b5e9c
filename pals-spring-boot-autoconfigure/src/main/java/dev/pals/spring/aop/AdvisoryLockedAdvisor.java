package dev.pals.spring.aop;

import dev.pals.LockRegistry;
import dev.pals.spring.LockLostEvent;
import dev.pals.spring.LockScope;
import java.lang.reflect.Method;
import javax.sql.DataSource;
import org.aopalliance.aop.Advice;
import org.springframework.aop.ClassFilter;
import org.springframework.aop.Pointcut;
import org.springframework.aop.support.AbstractPointcutAdvisor;
import org.springframework.aop.support.StaticMethodMatcherPointcut;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.ApplicationEventPublisherAware;
import org.springframework.context.ApplicationListener;
import org.springframework.context.aot.AbstractAotProcessor;
import org.springframework.core.Ordered;

/**
 * Applies {@code @AdvisoryLocked} of one scope to the beans that use it, checking every locked
 * method of a bean when its proxy is made, so that a wrong attribute fails start-up.
 *
 * <p>Order against {@code @Transactional} on the same method, given when the advisor is made:
 * the SESSION advisor runs outside the transaction interceptor (by default at
 * {@code Ordered.LOWEST_PRECEDENCE - 1}, just before {@code @EnableTransactionManagement}'s default
 * order), so the lock is taken before the transaction begins and released after it commits, and
 * no other instance can read the state before it is committed. The TRANSACTION advisor runs at
 * {@link Ordered#LOWEST_PRECEDENCE}, inside the transaction it locks in; beside a transaction
 * advisor of that same order it still runs inside, because Spring keeps advisors of equal order
 * in registration order and auto-configuration registers after the service's configuration.
 */
final class AdvisoryLockedAdvisor extends AbstractPointcutAdvisor
        implements ApplicationEventPublisherAware, ApplicationListener<LockLostEvent> {

    private static final long serialVersionUID = 1L;

    private final transient AdvisoryLockInterceptor interceptor;
    private final transient Pointcut pointcut;

    private AdvisoryLockedAdvisor(LockScope scope, int order, LockedMethods lockedMethods,
            AdvisoryLockInterceptor interceptor, ObjectProvider<LockRegistry> registry) {
        setOrder(order);
        this.interceptor = interceptor;
        this.pointcut = new LockedMethodPointcut(scope, lockedMethods, registry);
    }

    /**
     * The advisor for one scope.
     *
     * @param sessionOrder the order of the SESSION advisor; the TRANSACTION advisor's is always
     *     {@link Ordered#LOWEST_PRECEDENCE}
     * @param lockedMethods the locked methods found so far, shared by both scopes' advisors
     * @param interruptOnLoss whether a lost lock interrupts the thread running its method
     * @param registry the lock registry, looked up when the first locked method is found
     * @param dataSource the service's DataSource, for TRANSACTION scope
     * @param beanFactory where the reactive TRANSACTION scope finds its R2DBC transaction locks
     */
    static AdvisoryLockedAdvisor of(LockScope scope, int sessionOrder, LockedMethods lockedMethods,
            boolean interruptOnLoss, ObjectProvider<LockRegistry> registry, ObjectProvider<DataSource> dataSource,
            BeanFactory beanFactory) {
        int order = scope == LockScope.SESSION ? sessionOrder : Ordered.LOWEST_PRECEDENCE;
        return new AdvisoryLockedAdvisor(scope, order, lockedMethods,
                new AdvisoryLockInterceptor(lockedMethods, registry, dataSource, beanFactory, interruptOnLoss), registry);
    }

    @Override
    public void onApplicationEvent(LockLostEvent event) {
        interceptor.lost(event.getLock(), event.getCause());
    }

    @Override
    public void setApplicationEventPublisher(ApplicationEventPublisher publisher) {
        interceptor.setPublisher(publisher);
    }

    @Override
    public Pointcut getPointcut() {
        return pointcut;
    }

    @Override
    public Advice getAdvice() {
        return interceptor;
    }

    /** Matches the locked methods of one scope; checks a class's locked methods on first sight. */
    private static final class LockedMethodPointcut extends StaticMethodMatcherPointcut {

        private final LockScope scope;
        private final LockedMethods lockedMethods;

        LockedMethodPointcut(LockScope scope, LockedMethods lockedMethods, ObjectProvider<LockRegistry> registry) {
            this.scope = scope;
            this.lockedMethods = lockedMethods;
                setClassFilter(new ClassFilter() {
                @Override
                public boolean matches(Class<?> type) {
                    boolean locked = lockedMethods.inspect(type, scope);
                    // fails start-up, through the failure analyzer, when there is no registry to lock with;
                    // not at build time, where AOT processing only needs to know which classes are proxied
                    if (locked && !Boolean.getBoolean(AbstractAotProcessor.AOT_PROCESSING)
                            && registry.getIfAvailable() == null) {
                        throw new LockRegistryMissingException(type);
                    }
                    return locked;
                }
            });
        }

        @Override
        public boolean matches(Method method, Class<?> targetClass) {
            LockedMethod locked = lockedMethods.find(method, targetClass);
            return locked != null && locked.scope() == scope;
        }
    }
}
