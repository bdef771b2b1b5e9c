package dev.pals.spring.aop;

import java.beans.PropertyDescriptor;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.BeanUtils;
import org.springframework.core.DefaultParameterNameDiscoverer;
import org.springframework.core.ParameterNameDiscoverer;
import org.springframework.expression.AccessException;
import org.springframework.expression.EvaluationContext;
import org.springframework.expression.EvaluationException;
import org.springframework.expression.ParseException;
import org.springframework.expression.PropertyAccessor;
import org.springframework.expression.TypedValue;
import org.springframework.expression.spel.SpelNode;
import org.springframework.expression.spel.ast.Assign;
import org.springframework.expression.spel.ast.BeanReference;
import org.springframework.expression.spel.ast.CompoundExpression;
import org.springframework.expression.spel.ast.ConstructorReference;
import org.springframework.expression.spel.ast.FunctionReference;
import org.springframework.expression.spel.ast.MethodReference;
import org.springframework.expression.spel.ast.OpDec;
import org.springframework.expression.spel.ast.OpInc;
import org.springframework.expression.spel.ast.OpPlus;
import org.springframework.expression.spel.ast.PropertyOrFieldReference;
import org.springframework.expression.spel.ast.StringLiteral;
import org.springframework.expression.spel.ast.TypeReference;
import org.springframework.expression.spel.ast.VariableReference;
import org.springframework.expression.spel.standard.SpelExpression;
import org.springframework.expression.spel.standard.SpelExpressionParser;
import org.springframework.expression.spel.support.DataBindingPropertyAccessor;
import org.springframework.expression.spel.support.SimpleEvaluationContext;
import org.springframework.util.ClassUtils;

/**
 * The {@code name} of an {@code @AdvisoryLocked} method, turned into the lock name of each call.
 *
 * <p>A name that contains {@code #} is a SpEL expression over the method's parameters; any other
 * name is a constant, used verbatim. So {@code "nightly-report"} is a constant, and
 * {@code "'account:' + #id"}, {@code "#order.customerId"}, {@code "#p0"} and
 * {@code "#root.methodName"} are expressions.
 *
 * <p>An expression may read the parameters by name ({@code #id}), by position ({@code #p0} or
 * {@code #a0}), their properties and their public instance methods, and {@code #root}: the
 * {@link Root call} ({@code #root.methodName}, {@code #root.args}, {@code #root.target}, ...). It
 * may not refer to types, constructors, beans or functions, nor assign. Of a {@link Class}, such
 * as {@code #root.targetClass}, only {@code name} and {@code simpleName} can be read: SpEL's
 * data-binding access refuses every member of {@code Class}, so PALs reads those two itself and
 * refuses any other at start-up rather than at the first call. The template is written by
 * the application's own developers, so these limits guard against mistakes rather than attacks:
 * the methods an expression may call are those of the objects it reaches. All of this is checked
 * when the template is made, at start-up, rather than on the first call.
 *
 * <p>Instances are immutable and thread-safe.
 */
final class LockNameTemplate {

    private static final SpelExpressionParser PARSER = new SpelExpressionParser();
    private static final ParameterNameDiscoverer PARAMETER_NAMES = new DefaultParameterNameDiscoverer();
    private static final PropertyAccessor CLASS_NAMES = new ClassNameAccessor();
    private static final PropertyAccessor DATA_BINDING = DataBindingPropertyAccessor.forReadOnlyAccess();

    private final String source;
    private final Method method;
    private final String errorPrefix;
    private final @Nullable SpelExpression expression;
    private final String @Nullable [] parameterNames;
    /** For the common {@code #id} and {@code 'account:' + #id}: the same name without SpEL per call. */
    private final @Nullable Shortcut shortcut;

    private LockNameTemplate(String source, Method method, String errorPrefix, @Nullable SpelExpression expression,
            String @Nullable [] parameterNames) {
        this.source = source;
        this.method = method;
        this.errorPrefix = errorPrefix;
        this.expression = expression;
        this.parameterNames = parameterNames;
        this.shortcut = expression == null ? null : Shortcut.of(expression.getAST(), method, parameterNames);
    }

    /**
     * Parses and checks the {@code name} of {@code method}'s annotation.
     *
     * @throws IllegalStateException if {@code name} is blank, is not valid SpEL, uses a construct
     *     that is not allowed or refers to a variable that {@code method} does not have; the
     *     message names the method and says how to fix it
     */
    static LockNameTemplate of(@Nullable String name, Method method) {
        String errorPrefix = "@AdvisoryLocked on " + LockedMethods.describe(method) + ": ";
        if (name == null || name.isBlank()) {
            throw new IllegalStateException(errorPrefix + "name must not be blank; give a constant such as "
                    + "\"nightly-report\" or a SpEL expression over the parameters such as \"'account:' + #id\"");
        }
        if (name.indexOf('#') < 0) {
            return new LockNameTemplate(name, method, errorPrefix, null, null);
        }
        SpelExpression expression;
        try {
            expression = PARSER.parseRaw(name);
        } catch (ParseException e) {
            throw new IllegalStateException(errorPrefix + "name '" + name + "' is not a valid SpEL expression: "
                    + e.getMessage(), e);
        }
        String @Nullable [] parameterNames = PARAMETER_NAMES.getParameterNames(method);
        check(expression.getAST(), name, errorPrefix, method.getParameterCount(), parameterNames);
        checkClassMembers(expression.getAST(), name, errorPrefix);
        return new LockNameTemplate(name, method, errorPrefix, expression, parameterNames);
    }

    /**
     * The positions of the parameters the expression reads, by name or by position, in order; none
     * for a constant. Ahead-of-time processing registers their types, which SpEL reads reflectively.
     */
    Set<Integer> parametersRead() {
        Set<Integer> read = new TreeSet<>();
        if (expression != null) {
            collectParameters(expression.getAST(), read);
        }
        return read;
    }

    private void collectParameters(SpelNode node, Set<Integer> read) {
        if (node instanceof VariableReference variable) {
            int index = parameterIndex(variable, method, parameterNames);
            if (index >= 0) {
                read.add(index);
            }
        }
        for (int i = 0; i < node.getChildCount(); i++) {
            collectParameters(node.getChild(i), read);
        }
    }

    /** Whether the name is the same for every call. */
    boolean isConstant() {
        return expression == null;
    }

    /** The name as written in the annotation, the same for every call. */
    String source() {
        return source;
    }

    /**
     * The lock name of one call: the constant, or the expression evaluated against the call.
     *
     * @param args the call's arguments
     * @param target the object the method is called on, or {@code null} for a static method
     * @throws IllegalArgumentException if the expression fails, or its result is null or blank
     */
    String resolve(@Nullable Object[] args, @Nullable Object target) {
        SpelExpression expression = this.expression;
        if (expression == null) {
            return source;
        }
        Object value = shortcut != null ? shortcut.value(args) : evaluate(expression, args, target);
        if (value == null) {
            throw new IllegalArgumentException(errorPrefix + "name '" + source
                    + "' evaluated to null for this call; a lock name must not be null or blank");
        }
        String lockName = String.valueOf(value);
        if (lockName.isBlank()) {
            throw new IllegalArgumentException(errorPrefix + "name '" + source
                    + "' evaluated to a blank string for this call; a lock name must not be null or blank");
        }
        return lockName;
    }

    private @Nullable Object evaluate(SpelExpression expression, @Nullable Object[] args, @Nullable Object target) {
        SimpleEvaluationContext context = SimpleEvaluationContext.forPropertyAccessors(CLASS_NAMES, DATA_BINDING)
                .withInstanceMethods()
                .withAssignmentDisabled()
                .withRootObject(new Root(method, args, target))
                .build();
        for (int i = 0; i < args.length; i++) {
            context.setVariable("p" + i, args[i]);
            context.setVariable("a" + i, args[i]);
        }
        if (parameterNames != null) {
            for (int i = 0; i < parameterNames.length && i < args.length; i++) {
                context.setVariable(parameterNames[i], args[i]);
            }
        }
        try {
            return expression.getValue(context);
        } catch (EvaluationException e) {
            throw new IllegalArgumentException(errorPrefix + "name '" + source
                    + "' could not be evaluated for this call: " + e.getMessage(), e);
        }
    }

    /**
     * A name that is one parameter, optionally after a string literal, of a type whose SpEL
     * string conversion is {@code String.valueOf}: resolved by reading the argument, which gives
     * exactly what SpEL would and spares building an evaluation context on every call.
     */
    private record Shortcut(@Nullable String prefix, int index) {

        private static final Set<Class<?>> PLAIN = Set.of(String.class, long.class, Long.class, int.class,
                Integer.class, short.class, Short.class, byte.class, Byte.class, UUID.class);

        static @Nullable Shortcut of(SpelNode ast, Method method, String @Nullable [] parameterNames) {
            if (ast instanceof VariableReference variable) {
                return at(null, variable, method, parameterNames);
            }
            if (ast instanceof OpPlus plus && plus.getChildCount() == 2
                    && plus.getChild(0) instanceof StringLiteral literal
                    && plus.getChild(1) instanceof VariableReference variable) {
                return at(String.valueOf(literal.getLiteralValue().getValue()), variable, method, parameterNames);
            }
            return null;
        }

        private static @Nullable Shortcut at(@Nullable String prefix, VariableReference variable, Method method,
                String @Nullable [] parameterNames) {
            int index = parameterIndex(variable, method, parameterNames);
            if (index < 0 || !PLAIN.contains(method.getParameterTypes()[index])) {
                return null;
            }
            return new Shortcut(prefix, index);
        }

        @Nullable Object value(@Nullable Object[] args) {
            Object argument = args[index];
            // as SpEL: a null alone is null, and concatenated it reads "null"
            return prefix == null ? argument : prefix + argument;
        }
    }

    /** The position of the parameter a variable names ({@code #id}, {@code #p0}, {@code #a0}), or -1 for another. */
    private static int parameterIndex(VariableReference variable, Method method, String @Nullable [] parameterNames) {
        String name = variable.toStringAST().substring(1);
        int index = parameterNames == null ? -1 : Arrays.asList(parameterNames).indexOf(name);
        if (index < 0 && name.matches("[pa]\\d{1,3}")) {
            index = Integer.parseInt(name.substring(1));
        }
        return index < method.getParameterCount() ? index : -1;
    }

    /** Rejects, anywhere in the tree, what could reach beyond the call's own arguments. */
    private static void check(SpelNode node, String name, String errorPrefix, int parameterCount,
            String @Nullable [] parameterNames) {
        String forbidden = forbidden(node);
        if (forbidden != null) {
            throw new IllegalStateException(errorPrefix + "name '" + name + "' uses " + forbidden
                    + " (" + node.toStringAST() + "), which is not allowed; only the method's parameters, "
                    + "their properties and methods are allowed, e.g. #id, #order.customerId, #p0, #root.methodName");
        }
        if (node instanceof VariableReference) {
            String variable = node.toStringAST().substring(1);
            List<String> allowed = allowedVariables(parameterCount, parameterNames);
            if (!allowed.contains(variable)) {
                throw new IllegalStateException(errorPrefix + "name '" + name + "' refers to #" + variable
                        + ", which is not a parameter; allowed are "
                        + allowed.stream().map(v -> "#" + v).collect(Collectors.joining(", "))
                        + (parameterNames == null && parameterCount > 0
                                ? "; parameter names are not available because the class was compiled without "
                                        + "-parameters, so compile with -parameters or use #p0, #p1, ..."
                                : ""));
            }
        }
        for (int i = 0; i < node.getChildCount(); i++) {
            check(node.getChild(i), name, errorPrefix, parameterCount, parameterNames);
        }
    }

    /**
     * Follows each chain that starts at the root ({@code #root.targetClass.simpleName},
     * {@code method.declaringClass.name}) through the getters' declared types, and refuses a
     * member of a {@link Class} other than the two {@link ClassNameAccessor} reads, which would
     * otherwise fail only when called. Chains through parameters are typed at call time, so
     * they are not followed.
     */
    private static void checkClassMembers(SpelNode node, String name, String errorPrefix) {
        if (node instanceof CompoundExpression) {
            Class<?> type = null;
            for (int i = 0; i < node.getChildCount(); i++) {
                SpelNode step = node.getChild(i);
                if (i == 0 && step instanceof VariableReference variable
                        && (variable.toStringAST().equals("#root") || variable.toStringAST().equals("#this"))) {
                    type = Root.class;
                    continue;
                }
                if (i == 0 && step instanceof PropertyOrFieldReference) {
                    type = Root.class;
                }
                if (type == Class.class) {
                    String member = step instanceof PropertyOrFieldReference property ? property.getName()
                            : step instanceof MethodReference called ? called.getName() + "()" : null;
                    if (member != null && !ClassNameAccessor.READ.contains(member)) {
                        throw new IllegalStateException(errorPrefix + "name '" + name + "' "
                                + (step instanceof MethodReference ? "calls " + member + " on" : "reads " + member + " of")
                                + " a Class, which is not allowed; of a Class only its name and simpleName can be "
                                + "read, e.g. #root.targetClass.simpleName");
                    }
                }
                type = step instanceof PropertyOrFieldReference property && type != null
                        ? propertyType(type, property.getName()) : null;
            }
        }
        for (int i = 0; i < node.getChildCount(); i++) {
            checkClassMembers(node.getChild(i), name, errorPrefix);
        }
    }

    /** The declared type of a readable property, or {@code null} when it is not known before the call. */
    private static @Nullable Class<?> propertyType(Class<?> type, String property) {
        if (type == Class.class) {
            return String.class;
        }
        PropertyDescriptor descriptor = BeanUtils.getPropertyDescriptor(type, property);
        return descriptor == null || descriptor.getReadMethod() == null ? null : descriptor.getPropertyType();
    }

    private static @Nullable String forbidden(SpelNode node) {
        if (node instanceof TypeReference) {
            return "a type reference T(...)";
        }
        if (node instanceof ConstructorReference) {
            return "a constructor call new ...";
        }
        if (node instanceof BeanReference) {
            return "a bean reference @... or &...";
        }
        if (node instanceof Assign || node instanceof OpInc || node instanceof OpDec) {
            return "an assignment";
        }
        if (node instanceof FunctionReference) {
            return "a function reference #...()";
        }
        return null;
    }

    private static List<String> allowedVariables(int parameterCount, String @Nullable [] parameterNames) {
        List<String> allowed = new ArrayList<>(List.of("root", "this"));
        if (parameterNames != null) {
            allowed.addAll(Arrays.asList(parameterNames));
        }
        for (int i = 0; i < parameterCount; i++) {
            allowed.add("p" + i);
        }
        for (int i = 0; i < parameterCount; i++) {
            allowed.add("a" + i);
        }
        return allowed;
    }

    /**
     * Reads {@code name} and {@code simpleName} of a {@link Class}, which the data-binding accessor
     * refuses along with every other member of {@code Class} (for safety, since a class reaches
     * its class loader); these two reach nothing but a string.
     */
    private static final class ClassNameAccessor implements PropertyAccessor {

        static final Set<String> READ = Set.of("name", "simpleName");

        @Override
        public Class<?> @Nullable [] getSpecificTargetClasses() {
            // SpEL looks accessors up by the class a Class value stands for, so this one is general
            return null;
        }

        @Override
        public boolean canRead(EvaluationContext context, @Nullable Object target, String name) {
            return target instanceof Class && READ.contains(name);
        }

        @Override
        public TypedValue read(EvaluationContext context, @Nullable Object target, String name)
                throws AccessException {
            if (!(target instanceof Class<?> type)) {
                throw new AccessException("not a Class: " + target);
            }
            return new TypedValue(name.equals("name") ? type.getName() : type.getSimpleName());
        }

        @Override
        public boolean canWrite(EvaluationContext context, @Nullable Object target, String name) {
            return false;
        }

        @Override
        public void write(EvaluationContext context, @Nullable Object target, String name, @Nullable Object newValue) {
            throw new UnsupportedOperationException("lock name expressions do not assign");
        }
    }

    /**
     * The root object of an expression, {@code #root}: the call being locked. Public, with
     * getters, because SpEL reads it reflectively.
     */
    public static final class Root {

        private final Method method;
        private final @Nullable Object[] args;
        private final @Nullable Object target;

        Root(Method method, @Nullable Object[] args, @Nullable Object target) {
            this.method = method;
            this.args = args;
            this.target = target;
        }

        /** The name of the method called. */
        public String getMethodName() {
            return method.getName();
        }

        /** The method called. */
        public Method getMethod() {
            return method;
        }

        /** The call's arguments. */
        public @Nullable Object[] getArgs() {
            return args;
        }

        /** The object the method is called on, or {@code null} for a static method. */
        public @Nullable Object getTarget() {
            return target;
        }

        /** The class of the target (the user class, not a CGLIB subclass), or the declaring class without one. */
        public Class<?> getTargetClass() {
            return target == null ? method.getDeclaringClass() : ClassUtils.getUserClass(target);
        }
    }
}
