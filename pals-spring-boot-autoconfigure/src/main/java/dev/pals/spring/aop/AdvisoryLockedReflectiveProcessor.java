package dev.pals.spring.aop;

import dev.pals.spring.AdvisoryLocked;
import java.lang.reflect.Method;
import org.springframework.aot.hint.BindingReflectionHintsRegistrar;
import org.springframework.aot.hint.MemberCategory;
import org.springframework.aot.hint.ReflectionHints;
import org.springframework.aot.hint.annotation.SimpleReflectiveProcessor;
import org.springframework.core.ResolvableType;
import org.springframework.core.annotation.MergedAnnotation;

/**
 * What a native image needs for the {@code @AdvisoryLocked} methods of a service, registered
 * during ahead-of-time processing of each bean whose class uses the annotation: the locked methods
 * invocable, since a proxy may call them reflectively; and, for a name that is an expression, the
 * root object, the class the method is called on ({@code #root.target}) and the types of the
 * parameters the expression reads (element types, for arrays), with their public methods and the
 * properties reachable from them, since SpEL reaches all of these reflectively. Objects an
 * expression reaches otherwise, such as through {@code #root.args} or a method's result, are not
 * known at build time and need the service's own hints.
 *
 * <p>Internal to the starter: public only because {@link AdvisoryLocked} names it.
 */
public final class AdvisoryLockedReflectiveProcessor extends SimpleReflectiveProcessor {

    private static final BindingReflectionHintsRegistrar BINDINGS = new BindingReflectionHintsRegistrar();

    @Override
    protected void registerMethodHint(ReflectionHints hints, Method method) {
        super.registerMethodHint(hints, method);
        registerNameHints(hints, method, LockedMethods.annotation(method, method.getDeclaringClass()));
    }

    /** On a class, the annotation locks the public instance methods that {@link LockedMethods} says it does. */
    @Override
    protected void registerTypeHint(ReflectionHints hints, Class<?> type) {
        hints.registerType(type, MemberCategory.INVOKE_PUBLIC_METHODS);
        for (Method method : type.getMethods()) {
            if (!method.isBridge() && !method.isSynthetic() && method.getDeclaringClass() != Object.class) {
                registerNameHints(hints, method, LockedMethods.annotation(method, type));
            }
        }
    }

    private static void registerNameHints(ReflectionHints hints, Method method,
            MergedAnnotation<AdvisoryLocked> annotation) {
        if (!annotation.isPresent()) {
            return;
        }
        String[] names = annotation.getStringArray("names");
        for (String source : names.length == 0 ? new String[] {annotation.getString("name")} : names) {
            registerNameHints(hints, method, source);
        }
    }

    private static void registerNameHints(ReflectionHints hints, Method method, String source) {
        LockNameTemplate name;
        try {
            name = LockNameTemplate.of(source, method);
        } catch (IllegalStateException e) {
            // start-up rejects the name, naming the method; there is nothing to register for it
            return;
        }
        if (name.isConstant()) {
            return;
        }
        hints.registerType(LockNameTemplate.Root.class, MemberCategory.INVOKE_PUBLIC_METHODS);
        hints.registerType(method.getDeclaringClass(), MemberCategory.INVOKE_PUBLIC_METHODS);
        for (int index : name.parametersRead()) {
            ResolvableType type = ResolvableType.forMethodParameter(method, index);
            while (type.isArray()) {
                type = type.getComponentType();
            }
            if (!type.toClass().isPrimitive()) {
                // the generic type, so that a List<Order> also registers Order
                BINDINGS.registerReflectionHints(hints, type.getType());
                hints.registerType(type.toClass(), MemberCategory.INVOKE_PUBLIC_METHODS);
            }
        }
    }
}
