package dev.pals.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.Target;
import java.lang.reflect.AnnotatedArrayType;
import java.lang.reflect.AnnotatedParameterizedType;
import java.lang.reflect.AnnotatedType;
import java.lang.reflect.AnnotatedWildcardType;
import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.TypeVariable;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A module's public API as text, compared with a file checked in with its tests, so that the API
 * cannot grow or shrink unnoticed.
 *
 * <p>Every type that code outside the module can name (public top-level types, and their public or
 * protected nested types) gets one line, with its supertypes and record components, and so does each
 * of its public or protected constructors, methods, fields and enum constants: generic parameter and
 * return types with their type annotations ({@code @Nullable} is part of the contract), checked
 * exceptions, the values of constants and of annotation defaults, which callers compile in. Each
 * line starts with its type's name, so that a line read alone, as in a diff, says where it belongs.
 * Members that a public class inherits from a package-private superclass count as its own, since
 * callers can reach them. Compiler-made members (bridges, lambdas) are left out; those the language
 * defines ({@code values()}, a record's accessors) are in.
 *
 * <p>Plain reflection rather than a bytecode library: the classes are on the test's class path
 * already, reflection sees them as callers do, and the module gains no dependency.
 */
public final class ApiSurface {

    /** System property that makes {@link #check} rewrite the file instead of comparing with it. */
    public static final String UPDATE_PROPERTY = "pals.api.update";

    private static final int TYPE_MODIFIERS =
            Modifier.PUBLIC | Modifier.PROTECTED | Modifier.STATIC | Modifier.FINAL | Modifier.ABSTRACT;
    private static final int FIELD_MODIFIERS = Modifier.PUBLIC | Modifier.PROTECTED | Modifier.STATIC | Modifier.FINAL;

    private ApiSurface() {
    }

    /**
     * Compares the API of the classes compiled with {@code anchor} (every class in its class-path
     * directory) with {@code src/test/resources/api/<module>.txt} under the working directory (the
     * module's, under Maven), and throws an {@link AssertionError} listing the lines added and
     * removed when they differ. With {@code -Dpals.api.update=true} it writes the file instead.
     */
    public static void check(String module, Class<?> anchor) {
        Path file = Path.of("src", "test", "resources", "api", module + ".txt");
        List<String> actual = describe(anchor);
        try {
            if (Boolean.getBoolean(UPDATE_PROPERTY)) {
                Files.createDirectories(file.toAbsolutePath().getParent());
                Files.write(file, Stream.concat(Stream.of(
                        "# The public API of " + module + ", one line per type and member, checked by ApiSurfaceTest.",
                        "# Do not edit: rewrite it with -D" + UPDATE_PROPERTY + "=true and review the diff"
                                + " (CONTRIBUTING.md, \"The API surface\")."),
                        actual.stream()).toList());
                return;
            }
            if (!Files.exists(file)) {
                throw new AssertionError("No API file at " + file.toAbsolutePath() + "; write it with\n"
                        + updateCommand(module));
            }
            List<String> expected = Files.readAllLines(file).stream()
                    .filter(line -> !line.isBlank() && !line.startsWith("#"))
                    .toList();
            String difference = difference(expected, actual);
            if (!difference.isEmpty()) {
                throw new AssertionError("The public API of " + module + " differs from " + file
                        + " (+ added, - removed):\n" + difference
                        + "If the change is meant, rewrite the file, review its diff and commit it with the change:\n"
                        + updateCommand(module));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // -am, so that the classes checked and this one come from the worktree and not from ~/.m2
    private static String updateCommand(String module) {
        return "    ./mvnw -pl " + module + " -am test -Dtest=ApiSurfaceTest"
                + " -Dsurefire.failIfNoSpecifiedTests=false -D" + UPDATE_PROPERTY + "=true\n";
    }

    /** The lines in only one of the two lists, sorted, each marked {@code +} (added) or {@code -} (removed). */
    private static String difference(List<String> expected, List<String> actual) {
        Set<String> before = new HashSet<>(expected);
        Set<String> after = new HashSet<>(actual);
        Map<String, String> changed = new TreeMap<>();
        after.stream().filter(line -> !before.contains(line)).forEach(line -> changed.put(line, "+ "));
        before.stream().filter(line -> !after.contains(line)).forEach(line -> changed.put(line, "- "));
        return changed.entrySet().stream()
                .map(change -> "  " + change.getValue() + change.getKey() + "\n")
                .collect(Collectors.joining());
    }

    /** The API of the classes in {@code anchor}'s class-path directory: types by name, each followed by its members. */
    private static List<String> describe(Class<?> anchor) {
        List<String> lines = new ArrayList<>();
        classesBeside(anchor).stream()
                .filter(ApiSurface::exported)
                .sorted(Comparator.comparing(ApiSurface::typeName))
                .forEach(type -> {
                    lines.add(typeName(type) + ": " + declaration(type));
                    lines.addAll(members(type));
                });
        return lines;
    }

    private static List<Class<?>> classesBeside(Class<?> anchor) {
        Path root;
        try {
            root = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        if (!Files.isDirectory(root)) {
            throw new IllegalStateException(anchor + " is not loaded from a class directory but from " + root);
        }
        try (Stream<Path> files = Files.walk(root)) {
            return files.map(file -> root.relativize(file).toString())
                    .filter(name -> name.endsWith(".class") && !name.endsWith("package-info.class")
                            && !name.endsWith("module-info.class"))
                    .<Class<?>>map(name -> load(name.substring(0, name.length() - ".class".length())
                            .replace(root.getFileSystem().getSeparator(), "."), anchor.getClassLoader()))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Class<?> load(String name, ClassLoader loader) {
        try {
            return Class.forName(name, false, loader);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether code in another package can name the type. */
    private static boolean exported(Class<?> type) {
        if (type.isAnonymousClass() || type.isLocalClass() || type.isSynthetic()) {
            return false;
        }
        Class<?> enclosing = type.getEnclosingClass();
        if (enclosing == null) {
            return Modifier.isPublic(type.getModifiers());
        }
        return visible(type.getModifiers()) && exported(enclosing);
    }

    private static boolean visible(int modifiers) {
        return Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers);
    }

    private static String declaration(Class<?> type) {
        StringBuilder line = new StringBuilder();
        int modifiers = type.getModifiers() & TYPE_MODIFIERS;
        String kind;
        if (type.isAnnotation()) {
            line.append(metaAnnotations(type));
            modifiers &= ~(Modifier.ABSTRACT | Modifier.STATIC);
            kind = "@interface";
        } else if (type.isInterface()) {
            modifiers &= ~(Modifier.ABSTRACT | Modifier.STATIC);
            kind = "interface";
        } else if (type.isEnum()) {
            modifiers &= ~(Modifier.FINAL | Modifier.ABSTRACT | Modifier.STATIC);
            kind = "enum";
        } else if (type.isRecord()) {
            modifiers &= ~(Modifier.FINAL | Modifier.STATIC);
            kind = "record";
        } else {
            kind = "class";
        }
        line.append(Modifier.toString(modifiers)).append(' ');
        // an enum whose constants have bodies is sealed too, but only the compiler can extend it
        boolean sealed = type.isSealed() && !type.isEnum();
        if (sealed) {
            line.append("sealed ");
        }
        line.append(kind).append(' ').append(type.getSimpleName()).append(typeParameters(type.getTypeParameters()));
        if (type.isRecord()) {
            line.append('(').append(Arrays.stream(type.getRecordComponents())
                    .map(component -> type(component.getAnnotatedType()) + " " + component.getName())
                    .collect(Collectors.joining(", "))).append(')');
        }
        AnnotatedType superclass = type.getAnnotatedSuperclass();
        if (kind.equals("class") && superclass != null && superclass.getType() != Object.class) {
            line.append(" extends ").append(type(superclass));
        }
        if (!type.isAnnotation()) {
            line.append(list(type.isInterface() ? " extends " : " implements ", "", type.getAnnotatedInterfaces(),
                    ApiSurface::type));
        }
        if (sealed) {
            line.append(list(" permits ", "", type.getPermittedSubclasses(), ApiSurface::typeName));
        }
        return line.toString().stripLeading();
    }

    /** The annotations that decide where an annotation type goes and how long it lives. */
    private static String metaAnnotations(Class<?> type) {
        StringBuilder line = new StringBuilder();
        Retention retention = type.getAnnotation(Retention.class);
        if (retention != null) {
            line.append("@Retention(").append(retention.value()).append(") ");
        }
        Target target = type.getAnnotation(Target.class);
        if (target != null) {
            line.append("@Target(").append(value(target.value())).append(") ");
        }
        if (type.isAnnotationPresent(Inherited.class)) {
            line.append("@Inherited ");
        }
        return line.toString();
    }

    /**
     * The type's own members and those of its package-private superclasses: enum constants, fields,
     * constructors, methods, each by name.
     */
    private static List<String> members(Class<?> type) {
        Map<String, String> members = new TreeMap<>();
        String owner = typeName(type) + ": ";
        for (Class<?> declarer = type; declarer != null && (declarer == type || !exported(declarer));
                declarer = declarer.getSuperclass()) {
            for (Field field : declarer.getDeclaredFields()) {
                if (field.isEnumConstant()) {
                    members.put("0 " + field.getName(), owner + "enum constant " + field.getName());
                } else if (shown(field)) {
                    members.put("1 " + field.getName(), owner + modifiers(field, FIELD_MODIFIERS)
                            + type(field.getAnnotatedType()) + " " + field.getName() + constant(field));
                }
            }
            if (declarer == type) {
                for (Constructor<?> constructor : type.getDeclaredConstructors()) {
                    if (shown(constructor)) {
                        String line = owner + executable(constructor, type.getSimpleName(), "");
                        members.put("2 " + line, line);
                    }
                }
            }
            for (Method method : declarer.getDeclaredMethods()) {
                if (shown(method)) {
                    Object defaultValue = method.getDefaultValue();
                    String line = owner
                            + executable(method, method.getName(), type(method.getAnnotatedReturnType()) + " ")
                            + (defaultValue == null ? "" : " default " + value(defaultValue));
                    members.put("3 " + method.getName() + " " + line, line);
                }
            }
        }
        return new ArrayList<>(members.values());
    }

    private static boolean shown(Member member) {
        return !member.isSynthetic() && visible(member.getModifiers());
    }

    private static String executable(Executable executable, String name, String returnType) {
        int modifiers = Modifier.PUBLIC | Modifier.PROTECTED;
        if (executable instanceof Method) {
            modifiers |= Modifier.STATIC | Modifier.FINAL | Modifier.ABSTRACT;
        }
        String[] parameters = Arrays.stream(executable.getAnnotatedParameterTypes()).map(ApiSurface::type)
                .toArray(String[]::new);
        if (executable.isVarArgs()) {
            String last = parameters[parameters.length - 1];
            parameters[parameters.length - 1] = last.substring(0, last.length() - "[]".length()) + "...";
        }
        boolean isDefault = executable instanceof Method method && method.isDefault();
        String typeParameters = typeParameters(executable.getTypeParameters());
        return modifiers(executable, modifiers) + (isDefault ? "default " : "")
                + (typeParameters.isEmpty() ? "" : typeParameters + " ")
                + returnType + name + "(" + String.join(", ", parameters) + ")"
                + list(" throws ", "", executable.getAnnotatedExceptionTypes(), ApiSurface::type);
    }

    private static String modifiers(Member member, int shown) {
        String modifiers = Modifier.toString(member.getModifiers() & shown);
        return modifiers.isEmpty() ? "" : modifiers + " ";
    }

    private static String typeParameters(TypeVariable<?>[] parameters) {
        return list("<", ">", parameters, parameter -> {
            AnnotatedType[] bounds = parameter.getAnnotatedBounds();
            boolean unbounded = bounds.length == 1 && bounds[0].getType() == Object.class;
            return parameter.getName() + (unbounded ? ""
                    : Arrays.stream(bounds).map(ApiSurface::type).collect(Collectors.joining(" & ", " extends ", "")));
        });
    }

    private static String typeName(Class<?> type) {
        return type.isArray() ? typeName(type.getComponentType()) + "[]"
                : Objects.requireNonNullElse(type.getCanonicalName(), type.getName());
    }

    /**
     * A type as source code writes it, with canonical class names and its type annotations (JSpecify's
     * {@code @Nullable} is part of the API), so that the text is the same on every JDK.
     */
    private static String type(AnnotatedType type) {
        String annotations = Arrays.stream(type.getDeclaredAnnotations())
                .map(annotation -> "@" + annotation.annotationType().getSimpleName() + " ")
                .collect(Collectors.joining());
        if (type instanceof AnnotatedArrayType array) {
            // an annotation on the array itself goes before its brackets: String @Nullable []
            return type(array.getAnnotatedGenericComponentType())
                    + (annotations.isEmpty() ? "" : " " + annotations) + "[]";
        }
        if (type instanceof AnnotatedParameterizedType parameterized) {
            return annotations + typeName((Class<?>) ((ParameterizedType) parameterized.getType()).getRawType())
                    + list("<", ">", parameterized.getAnnotatedActualTypeArguments(), ApiSurface::type);
        }
        if (type instanceof AnnotatedWildcardType wildcard) {
            AnnotatedType[] lower = wildcard.getAnnotatedLowerBounds();
            AnnotatedType[] upper = wildcard.getAnnotatedUpperBounds();
            if (lower.length > 0) {
                return annotations + "? super " + type(lower[0]);
            }
            boolean unbounded = upper.length == 0 || upper[0].getType() == Object.class;
            return annotations + (unbounded ? "?" : "? extends " + type(upper[0]));
        }
        if (type.getType() instanceof Class<?> c) {
            return annotations + typeName(c);
        }
        return annotations + type.getType().getTypeName();
    }

    /** A constant's value, which callers compile into their own code: {@code = "pals.lock.held"}. */
    private static String constant(Field field) {
        boolean constant = Modifier.isStatic(field.getModifiers()) && Modifier.isFinal(field.getModifiers())
                && (field.getType().isPrimitive() || field.getType() == String.class);
        if (!constant) {
            return "";
        }
        try {
            return " = " + value(field.get(null));
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A constant or an annotation element's default as source code writes it. */
    private static String value(Object value) {
        if (value instanceof String string) {
            return '"' + string + '"';
        }
        if (value instanceof Class<?> c) {
            return typeName(c) + ".class";
        }
        if (value instanceof Enum<?> constant) {
            return constant.name();
        }
        if (value.getClass().isArray()) {
            List<String> elements = new ArrayList<>();
            for (int i = 0; i < Array.getLength(value); i++) {
                elements.add(value(Array.get(value, i)));
            }
            return "{" + String.join(", ", elements) + "}";
        }
        return String.valueOf(value);
    }

    private static <T> String list(String prefix, String suffix, T[] items, Function<T, String> format) {
        if (items.length == 0) {
            return "";
        }
        return Arrays.stream(items).map(format).collect(Collectors.joining(", ", prefix, suffix));
    }
}
