package dev.pals.spring.aop;

import dev.pals.AdvisorySemaphore;
import dev.pals.LockMode;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.LockScope;
import dev.pals.spring.OnContention;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.springframework.aop.support.AopUtils;
import org.springframework.boot.convert.DurationStyle;
import org.springframework.core.KotlinDetector;
import org.springframework.core.MethodClassKey;
import org.springframework.core.ReactiveAdapterRegistry;
import org.springframework.core.annotation.AnnotationUtils;
import org.springframework.core.annotation.MergedAnnotation;
import org.springframework.core.annotation.MergedAnnotations;
import org.springframework.core.annotation.MergedAnnotations.SearchStrategy;
import org.springframework.util.ClassUtils;
import org.springframework.util.ReflectionUtils;

/**
 * Finds the {@code @AdvisoryLocked} methods of a class, on the method or on the class, directly
 * or as a meta-annotation, in the class or its interfaces, and checks each one once: a mistake in
 * an attribute fails start-up with the method named, rather than the first call.
 *
 * <p>A bean, {@code palsLockedMethods}, for what the context has found: the actuator endpoint names
 * the keys it finds in {@code pg_locks} with {@link #constantNames()}.
 */
public final class LockedMethods {

    private static final boolean REACTOR_PRESENT =
            ClassUtils.isPresent("reactor.core.publisher.Flux", LockedMethods.class.getClassLoader());
    private static final boolean R2DBC_PRESENT = ClassUtils.isPresent(
            "org.springframework.r2dbc.connection.ConnectionFactoryUtils", LockedMethods.class.getClassLoader());
    private static final boolean COROUTINES_REACTOR_PRESENT =
            ClassUtils.isPresent("kotlinx.coroutines.reactor.MonoKt", LockedMethods.class.getClassLoader());

    private final Duration defaultTimeout;
    private final ConcurrentHashMap<MethodClassKey, Optional<LockedMethod>> cache = new ConcurrentHashMap<>();

    LockedMethods(Duration defaultTimeout) {
        this.defaultTimeout = defaultTimeout;
    }

    /**
     * Checks every locked method of {@code targetClass}.
     *
     * @return whether any has the given scope
     * @throws IllegalStateException naming the method whose annotation is wrong
     */
    boolean inspect(Class<?> targetClass, LockScope scope) {
        if (!AnnotationUtils.isCandidateClass(targetClass, AdvisoryLocked.class)) {
            return false;
        }
        boolean any = false;
        for (Method method : ReflectionUtils.getUniqueDeclaredMethods(targetClass, ReflectionUtils.USER_DECLARED_METHODS)) {
            LockedMethod locked = find(method, targetClass);
            any |= locked != null && locked.scope() == scope;
        }
        return any;
    }

    /**
     * The names of the locked methods of the beans proxied so far (every singleton, once the context
     * has started), in either scope, whose name is a constant rather than an expression.
     *
     * @return the names, sorted
     */
    public Set<String> constantNames() {
        Set<String> names = new TreeSet<>();
        for (Optional<LockedMethod> locked : cache.values()) {
            locked.map(method -> method.names().isEmpty() ? List.of(method.name()) : method.names()).orElse(List.of())
                    .stream().filter(LockNameTemplate::isConstant).forEach(name -> names.add(name.source()));
        }
        return names;
    }

    /** The checked annotation of {@code method} as called on {@code targetClass}, or {@code null}. */
    @Nullable LockedMethod find(Method method, @Nullable Class<?> targetClass) {
        return cache.computeIfAbsent(new MethodClassKey(method, targetClass),
                key -> Optional.ofNullable(resolve(method, targetClass))).orElse(null);
    }

    private @Nullable LockedMethod resolve(Method method, @Nullable Class<?> targetClass) {
        Method specific = AopUtils.getMostSpecificMethod(method, targetClass);
        if (specific.isBridge() || specific.isSynthetic() || specific.getDeclaringClass() == Object.class) {
            return null;
        }
        MergedAnnotation<AdvisoryLocked> annotation = annotation(specific, targetClass);
        if (!annotation.isPresent()) {
            return null;
        }
        return check(annotation.synthesize(), specific);
    }

    /**
     * The annotation that locks {@code method} as called on {@code targetClass}: its own, else, for
     * a public instance method other than {@code equals}, {@code hashCode} and {@code toString},
     * its class's. Also what ahead-of-time processing registers hints for.
     */
    static MergedAnnotation<AdvisoryLocked> annotation(Method method, @Nullable Class<?> targetClass) {
        MergedAnnotation<AdvisoryLocked> annotation = MergedAnnotations
                .from(method, SearchStrategy.TYPE_HIERARCHY).get(AdvisoryLocked.class);
        int modifiers = method.getModifiers();
        if (!annotation.isPresent() && Modifier.isPublic(modifiers) && !Modifier.isStatic(modifiers)
                && targetClass != null && !isObjectMethod(method)) {
            annotation = MergedAnnotations.from(targetClass, SearchStrategy.TYPE_HIERARCHY).get(AdvisoryLocked.class);
        }
        return annotation;
    }

    /** A class-level lock must not make logging or collections take it through toString, equals or hashCode. */
    private static boolean isObjectMethod(Method method) {
        return ReflectionUtils.isEqualsMethod(method) || ReflectionUtils.isHashCodeMethod(method)
                || ReflectionUtils.isToStringMethod(method);
    }

    private LockedMethod check(AdvisoryLocked locked, Method method) {
        String description = describe(method);
        int modifiers = method.getModifiers();
        if (Modifier.isFinal(modifiers) || Modifier.isPrivate(modifiers) || Modifier.isStatic(modifiers)) {
            throw invalid(description, "the method is " + Modifier.toString(modifiers & (Modifier.FINAL
                    | Modifier.PRIVATE | Modifier.STATIC)) + ", so the Spring proxy cannot intercept it and it would "
                    + "run unlocked; make it a public or protected instance method that is not final");
        }
        List<LockNameTemplate> names = LockSetCall.templates(locked, method, description);
        LockNameTemplate name = names.isEmpty() ? LockNameTemplate.of(locked.name(), method) : names.get(0);
        String timeoutText = locked.timeout().trim();
        if (!locked.blocking() && !timeoutText.isEmpty()) {
            throw invalid(description, "timeout = \"" + timeoutText + "\" is set but blocking = false, and a "
                    + "non-blocking call never waits; remove the timeout or set blocking = true");
        }
        Duration timeout = locked.blocking() ? timeout(description, timeoutText) : Duration.ZERO;
        LockedMethod.ReturnKind returnKind = returnKind(method);
        if (locked.onContention() == OnContention.SKIP && method.getReturnType().isPrimitive()
                && returnKind != LockedMethod.ReturnKind.VOID) {
            throw invalid(description, "onContention = SKIP returns null when the lock is taken, which a method "
                    + "returning " + method.getReturnType() + " cannot; return a wrapper type, an Optional or void");
        }
        if (returnKind == LockedMethod.ReturnKind.OTHER && Future.class.isAssignableFrom(method.getReturnType())) {
            throw invalid(description, "it returns " + method.getReturnType().getSimpleName() + ", whose work runs "
                    + "after the call returns, so the lock would not cover it; return a CompletionStage (it is held "
                    + "until the stage completes) or lock inside the asynchronous work");
        }
        if (returnKind == LockedMethod.ReturnKind.OTHER && isReactive(method)) {
            throw invalid(description, unsupportedReactive(method));
        }
        if (locked.scope() == LockScope.TRANSACTION && returnKind == LockedMethod.ReturnKind.COMPLETION_STAGE) {
            throw invalid(description, "scope = TRANSACTION cannot hold a lock until a CompletionStage completes: "
                    + "the transaction ends with the call; use scope = SESSION");
        }
        if (locked.scope() == LockScope.TRANSACTION && returnKind == LockedMethod.ReturnKind.REACTIVE
                && !R2DBC_PRESENT) {
            throw invalid(description, "scope = TRANSACTION on a reactive method ("
                    + (KotlinDetector.isSuspendingFunction(method) ? "a suspend function"
                            : "it returns " + method.getReturnType().getSimpleName())
                    + ") takes the lock in the reactive transaction's R2DBC connection, which needs "
                    + "org.springframework:spring-r2dbc and an R2DBC ConnectionFactory; add them, or use "
                    + "scope = SESSION, which holds the lock until the publisher completes, fails or is cancelled");
        }
        if (!names.isEmpty()) {
            LockSetCall.check(locked, returnKind, description);
        }
        String group = !locked.group().isEmpty() ? locked.group()
                : names.isEmpty() ? name.source() : LockSetCall.group(names);
        if (group.isBlank()) {
            throw invalid(description, "group = \"" + group + "\" is blank; leave it out to report under the name "
                    + "template, or give a short constant such as \"account\"");
        }
        Duration holdAtLeast = holdAtLeast(description, locked.holdAtLeast().trim());
        if (locked.scope() == LockScope.TRANSACTION && !holdAtLeast.isZero()) {
            throw invalid(description, "holdAtLeast = \"" + locked.holdAtLeast().trim() + "\" cannot keep a "
                    + "TRANSACTION lock: PostgreSQL releases it when the transaction ends; use scope = SESSION");
        }
        checkPermits(locked, description, returnKind);
        return new LockedMethod(description, name, LockOptions.exclusive().withMode(locked.mode()).withGroup(group),
                locked.blocking(), timeout, locked.scope(), locked.onContention(), returnKind, holdAtLeast,
                locked.permits(), names);
    }

    /** A semaphore's permit is held for a plain call, exclusively, in the lock pool's session. */
    private static void checkPermits(AdvisoryLocked locked, String description, LockedMethod.ReturnKind returnKind) {
        int permits = locked.permits();
        if (permits == 0) {
            return;
        }
        if (permits < 0 || permits > AdvisorySemaphore.MAX_PERMITS) {
            throw invalid(description, "permits = " + permits + " is outside 1 to " + AdvisorySemaphore.MAX_PERMITS
                    + "; leave it out (0) for a lock");
        }
        String refused = locked.names().length > 0 ? "names: a semaphore has one name"
                : locked.mode() == LockMode.SHARED ? "mode = SHARED: a permit is exclusive to its holder"
                : locked.scope() == LockScope.TRANSACTION ? "scope = TRANSACTION: permits are session locks"
                : !locked.holdAtLeast().isBlank() ? "holdAtLeast: a permit is given back as the call ends"
                : returnKind == LockedMethod.ReturnKind.COMPLETION_STAGE || returnKind == LockedMethod.ReturnKind.REACTIVE
                        ? "a method whose work goes on after it returns: take the permit inside that work"
                        : null;
        if (refused != null) {
            throw invalid(description, "permits = " + permits + " cannot be combined with " + refused);
        }
    }

    private static Duration holdAtLeast(String description, String text) {
        if (text.isEmpty()) {
            return Duration.ZERO;
        }
        return duration(description, "holdAtLeast", text, "30s, 5m or PT1M", "leave it out to release as the call ends",
                "a shorter duration");
    }

    private Duration timeout(String description, String text) {
        if (text.isEmpty()) {
            return defaultTimeout;
        }
        if (text.equalsIgnoreCase("forever")) {
            return LockRegistry.FOREVER;
        }
        return duration(description, "timeout", text, "500ms, 5s, PT1M or forever", "use 0s not to wait",
                "a shorter duration or \"forever\"");
    }

    /** A duration attribute, refused when it is not one, negative, or longer than lock_timeout can wait. */
    private static Duration duration(String description, String attribute, String text, String forms,
            String ifNegative, String ifTooLong) {
        Duration duration;
        try {
            duration = DurationStyle.detectAndParse(text);
        } catch (IllegalArgumentException e) {
            throw invalid(description, attribute + " = \"" + text + "\" is not a duration; write it as " + forms);
        }
        if (duration.isNegative()) {
            throw invalid(description, attribute + " = \"" + text + "\" is negative; " + ifNegative);
        }
        if (duration.compareTo(LockRegistry.LONGEST_WAIT) > 0) {
            throw invalid(description, attribute + " = \"" + text + "\" is longer than about 24 days, the most "
                    + "PostgreSQL's lock_timeout can wait and a lock is kept past its call; use " + ifTooLong);
        }
        return duration;
    }

    /** Why a reactive method cannot be held for its publisher's life. */
    private static String unsupportedReactive(Method method) {
        Class<?> type = method.getReturnType();
        Class<?> adapted = REACTOR_PRESENT ? adaptedType(type) : null;
        if (adapted != null && adapted != type) {
            return "it returns " + type.getSimpleName() + ", and the lock's publisher, a " + adapted.getSimpleName()
                    + ", cannot stand in for one; declare the method to return " + adapted.getSimpleName();
        }
        return (KotlinDetector.isSuspendingFunction(method) ? "it is a suspend function"
                : "it returns " + type.getSimpleName() + ", a reactive type")
                + ", whose work goes on after the call returns; holding the lock for its whole life needs "
                + "io.projectreactor:reactor-core (and org.jetbrains.kotlinx:kotlinx-coroutines-reactor for a "
                + "suspend function) on the class path; add them, or lock inside the work";
    }

    /** The type whose adapter converts {@code type}: itself, a supertype, or none. */
    private static @Nullable Class<?> adaptedType(Class<?> type) {
        var adapter = ReactiveAdapterRegistry.getSharedInstance().getAdapter(type);
        return adapter == null ? null : adapter.getReactiveType();
    }

    /**
     * A suspend function, or a type Spring's reactive adapters know (Reactor, RxJava, Mutiny, Kotlin
     * {@code Flow}), or any {@code Publisher}: work that goes on after the call returns.
     */
    private static boolean isReactive(Method method) {
        Class<?> type = method.getReturnType();
        return KotlinDetector.isSuspendingFunction(method)
                || ReactiveAdapterRegistry.getSharedInstance().getAdapter(type) != null || isPublisher(type);
    }

    /** Through superclasses and superinterfaces too: Reactor's Mono and Flux are Publishers by way of CorePublisher. */
    private static boolean isPublisher(@Nullable Class<?> type) {
        if (type == null) {
            return false;
        }
        if (type.getName().equals("org.reactivestreams.Publisher")) {
            return true;
        }
        for (Class<?> implemented : type.getInterfaces()) {
            if (isPublisher(implemented)) {
                return true;
            }
        }
        return isPublisher(type.getSuperclass());
    }

    private static LockedMethod.ReturnKind returnKind(Method method) {
        Class<?> type = method.getReturnType();
        if (type == void.class || type == Void.class) {
            return LockedMethod.ReturnKind.VOID;
        }
        if (type == Optional.class) {
            return LockedMethod.ReturnKind.OPTIONAL;
        }
        if (CompletionStage.class.isAssignableFrom(type)) {
            return LockedMethod.ReturnKind.COMPLETION_STAGE;
        }
        // the reactive branch is built on Reactor, and Spring's AOP hands on a suspend function's call as a
        // publisher only with kotlinx-coroutines-reactor: without them a reactive method stays OTHER and is refused
        if (REACTOR_PRESENT && (KotlinDetector.isSuspendingFunction(method) ? COROUTINES_REACTOR_PRESENT
                : adaptedType(type) == type)) {
            return LockedMethod.ReturnKind.REACTIVE;
        }
        return LockedMethod.ReturnKind.OTHER;
    }

    static String describe(Method method) {
        return method.getDeclaringClass().getSimpleName() + "." + method.getName() + "("
                + Arrays.stream(method.getParameterTypes()).map(Class::getSimpleName).collect(Collectors.joining(", "))
                + ")";
    }

    static IllegalStateException invalid(String description, String problem) {
        return new IllegalStateException("@AdvisoryLocked on " + description + ": " + problem);
    }
}
