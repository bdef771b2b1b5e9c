package dev.pals.spring.aop;

import dev.pals.spring.AdvisoryLocked;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import org.springframework.aot.hint.BindingReflectionHintsRegistrar;
import org.springframework.aot.hint.MemberCategory;
import org.springframework.aot.hint.ReflectionHints;
import org.springframework.aot.hint.annotation.SimpleReflectiveProcessor;
import org.springframework.core.annotation.MergedAnnotation;
import org.springframework.core.annotation.MergedAnnotations;
import org.springframework.core.annotation.MergedAnnotations.SearchStrategy;

/**
 * What a native image needs for the {@code @AdvisoryLocked} methods of a service, registered
 * during ahead-of-time processing of each bean whose class uses the annotation: the locked methods
 * invocable, since a proxy may call them reflectively; and, for a name that is an expression, the
 * root object and the types of the parameters it reads, with their properties and public methods,
 * since SpEL reaches them reflectively. Objects an expression reaches only through
 * {@code #root.args} or a method's result are not known at build time and need the service's own
 * hints.
 *
 * <p>Internal to the starter: public only because {@link AdvisoryLocked} names it.
 */
public final class AdvisoryLockedReflectiveProcessor extends SimpleReflectiveProcessor {

    private final BindingReflectionHintsRegistrar bindings = new BindingReflectionHintsRegistrar();

    @Override
    protected void registerMethodHint(ReflectionHints hints, Method method) {
        super.registerMethodHint(hints, method);
        registerNameHints(hints, method, annotation(method));
    }

    /** On a class, every public instance method is locked with the class's annotation, unless it has its own. */
    @Override
    protected void registerTypeHint(ReflectionHints hints, Class<?> type) {
        hints.registerType(type, MemberCategory.INVOKE_PUBLIC_METHODS);
        MergedAnnotation<AdvisoryLocked> onClass = MergedAnnotations.from(type, SearchStrategy.TYPE_HIERARCHY)
                .get(AdvisoryLocked.class);
        for (Method method : type.getMethods()) {
            if (method.getDeclaringClass() != Object.class && !Modifier.isStatic(method.getModifiers())) {
                MergedAnnotation<AdvisoryLocked> own = annotation(method);
                registerNameHints(hints, method, own.isPresent() ? own : onClass);
            }
        }
    }

    private static MergedAnnotation<AdvisoryLocked> annotation(Method method) {
        return MergedAnnotations.from(method, SearchStrategy.TYPE_HIERARCHY).get(AdvisoryLocked.class);
    }

    private void registerNameHints(ReflectionHints hints, Method method, MergedAnnotation<AdvisoryLocked> annotation) {
        if (!annotation.isPresent()) {
            return;
        }
        LockNameTemplate name;
        try {
            name = LockNameTemplate.of(annotation.getString("name"), method);
        } catch (IllegalStateException e) {
            // start-up rejects the name, naming the method; there is nothing to register for it
            return;
        }
        if (name.isConstant()) {
            return;
        }
        hints.registerType(LockNameTemplate.Root.class, MemberCategory.INVOKE_PUBLIC_METHODS);
        for (int index : name.parametersRead()) {
            Class<?> type = method.getParameterTypes()[index];
            if (!type.isPrimitive() && !type.isArray()) {
                bindings.registerReflectionHints(hints, method.getGenericParameterTypes()[index]);
                hints.registerType(type, MemberCategory.INVOKE_PUBLIC_METHODS);
            }
        }
    }
}
