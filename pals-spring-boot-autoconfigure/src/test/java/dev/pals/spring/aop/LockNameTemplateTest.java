package dev.pals.spring.aop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Lock names from {@code @AdvisoryLocked(name = ...)}: constants, and SpEL over the parameters only. */
class LockNameTemplateTest {

    @Test
    void constantIsUsedVerbatim() {
        LockNameTemplate template = LockNameTemplate.of("nightly-report", method("report"));

        assertThat(template.isConstant()).isTrue();
        assertThat(template.resolve(new Object[0], new Fixtures())).isEqualTo("nightly-report");
        assertThat(template.source()).isEqualTo("nightly-report");
    }

    @Test
    void expressionConcatenatesLongParameterByName() {
        LockNameTemplate template = LockNameTemplate.of("'account:' + #id", method("byId"));

        assertThat(template.isConstant()).isFalse();
        assertThat(template.resolve(new Object[] {42L}, new Fixtures())).isEqualTo("account:42");
        assertThat(template.source()).isEqualTo("'account:' + #id");
    }

    @Test
    void expressionReadsPropertyOfRecordParameter() {
        LockNameTemplate template = LockNameTemplate.of("#order.customerId", method("byOrder"));

        assertThat(template.resolve(new Object[] {new Order("c-7")}, new Fixtures())).isEqualTo("c-7");
    }

    @Test
    void expressionReadsParameterByPosition() {
        Method byId = method("byId");

        assertThat(LockNameTemplate.of("#p0", byId).resolve(new Object[] {5L}, null)).isEqualTo("5");
        assertThat(LockNameTemplate.of("#a0", byId).resolve(new Object[] {6L}, null)).isEqualTo("6");
    }

    @Test
    void expressionReadsMethodNameFromRoot() {
        LockNameTemplate template = LockNameTemplate.of("#root.methodName + ':' + #id", method("byId"));

        assertThat(template.resolve(new Object[] {1L}, new Fixtures())).isEqualTo("byId:1");
    }

    @Test
    void expressionReadsParametersByPositionBesideOtherTerms() {
        LockNameTemplate template = LockNameTemplate.of("#p0 + ':' + #a1", method("twoParameters"));

        assertThat(template.resolve(new Object[] {"acme", 7L}, null)).isEqualTo("acme:7");
    }

    @Test
    void parameterNamedLikeAPositionIsReadByItsNameAsSpelReadsIt() {
        Method namedLikePositions = method("namedLikePositions");
        Object[] args = {"first", "second"};

        assertThat(LockNameTemplate.of("#a1", namedLikePositions).resolve(args, null)).isEqualTo("first");
        assertThat(LockNameTemplate.of("'x:' + #a1", namedLikePositions).resolve(args, null)).isEqualTo("x:first");
        assertThat(LockNameTemplate.of("#a1 + ''", namedLikePositions).resolve(args, null)).isEqualTo("first");
    }

    @Test
    void expressionReadsTargetAndItsClassFromRoot() {
        Method report = method("report");
        LockNameTemplate target = LockNameTemplate.of("'on:' + #root.target", report);
        LockNameTemplate targetClass = LockNameTemplate.of("#root.targetClass", report);

        assertThat(target.resolve(new Object[0], new Fixtures())).isEqualTo("on:fixtures");
        assertThat(targetClass.resolve(new Object[0], new SubclassOfFixtures()))
                .isEqualTo(String.valueOf(SubclassOfFixtures.class));
        // a static method has no target: its class is the one that declares the method
        assertThat(targetClass.resolve(new Object[0], null)).isEqualTo(String.valueOf(Fixtures.class));
    }

    @Test
    void targetClassSimpleNameAndNameAreReadAtCallTime() {
        Method report = method("report");

        assertThat(LockNameTemplate.of("#root.targetClass.simpleName", report)
                .resolve(new Object[0], new SubclassOfFixtures())).isEqualTo("SubclassOfFixtures");
        assertThat(LockNameTemplate.of("targetClass.name + ':' + #root.method.declaringClass.simpleName", report)
                .resolve(new Object[0], new Fixtures())).isEqualTo(Fixtures.class.getName() + ":Fixtures");
    }

    @Test
    void otherMemberOfAClassIsRejectedAtStartUpNotAtCallTime() {
        assertThatThrownBy(() -> LockNameTemplate.of("#root.targetClass.packageName", method("report")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("name '#root.targetClass.packageName' reads packageName of a Class")
                .hasMessageContaining("only its name and simpleName");
        assertThatThrownBy(() -> LockNameTemplate.of("#root.targetClass.getSimpleName()", method("report")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("calls getSimpleName() on a Class");
    }

    @Test
    void literalBeforePropertyOfParameterIsConcatenated() {
        LockNameTemplate template = LockNameTemplate.of("'customer:' + #order.customerId", method("byOrder"));

        assertThat(template.resolve(new Object[] {new Order("c-7")}, null)).isEqualTo("customer:c-7");
    }

    @Test
    void concatenatedCollectionParameterReadsAsSpelConvertsIt() {
        Method byIds = method("byIds");
        Object[] args = {List.of("a", "b")};

        assertThat(LockNameTemplate.of("'ids:' + #ids", byIds).resolve(args, null))
                .isEqualTo(spel("'ids:' + #p0", byIds, args)).isEqualTo("ids:a,b");
    }

    @Test
    void parametersReadAreThoseTheExpressionNamesByNameOrPosition() {
        Method twoParameters = method("twoParameters");

        assertThat(LockNameTemplate.of("#tenant + ':' + #p1", twoParameters).parametersRead()).containsExactly(0, 1);
        assertThat(LockNameTemplate.of("'account:' + #a1", twoParameters).parametersRead()).containsExactly(1);
        assertThat(LockNameTemplate.of("#root.methodName", twoParameters).parametersRead()).isEmpty();
        assertThat(LockNameTemplate.of("nightly-report", twoParameters).parametersRead()).isEmpty();
    }

    @Test
    void expressionCallsMethodOnParameter() {
        LockNameTemplate template = LockNameTemplate.of("#name.toUpperCase()", method("byName"));

        assertThat(template.resolve(new Object[] {"alice"}, new Fixtures())).isEqualTo("ALICE");
    }

    @Test
    void syntaxErrorNamesMethodAndName() {
        assertThatThrownBy(() -> LockNameTemplate.of("'account:' + #id +", method("byId")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.byId(long): ")
                .hasMessageContaining("'account:' + #id +")
                .hasMessageContaining("not a valid SpEL expression");
    }

    @Test
    void unknownVariableIsRejectedListingAllowedNames() {
        assertThatThrownBy(() -> LockNameTemplate.of("#nope", method("byId")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.byId(long): ")
                .hasMessageContaining("#nope")
                .hasMessageContaining("#root, #this, #id, #p0, #a0");
    }

    @Test
    void unknownVariableWithoutParameterNamesSuggestsCompilingWithParameters() throws Exception {
        // the JDK is compiled without -parameters, so its parameter names are not available
        Method valueOf = String.class.getMethod("valueOf", Object.class);

        assertThatThrownBy(() -> LockNameTemplate.of("#obj", valueOf))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on String.valueOf(Object): ")
                .hasMessageContaining("-parameters")
                .hasMessageContaining("#p0");
    }

    @Test
    void typeReferenceIsRejected() {
        assertThatThrownBy(() -> LockNameTemplate.of("#id + T(java.lang.Runtime).getRuntime()", method("byId")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.byId(long): ")
                .hasMessageContaining("type reference")
                .hasMessageContaining("only the method's parameters, their properties and methods are allowed");
    }

    @Test
    void nameWithoutHashIsConstantEvenIfItLooksLikeSpel() {
        // no '#' makes this a constant, so it is never evaluated
        LockNameTemplate template = LockNameTemplate.of("T(java.lang.Runtime).getRuntime()", method("byId"));

        assertThat(template.isConstant()).isTrue();
        assertThat(template.resolve(new Object[] {1L}, null)).isEqualTo("T(java.lang.Runtime).getRuntime()");
    }

    @Test
    void constructorCallIsRejected() {
        assertThatThrownBy(() -> LockNameTemplate.of("#id + new java.io.File('x')", method("byId")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.byId(long): ")
                .hasMessageContaining("constructor");
    }

    @Test
    void beanReferenceIsRejected() {
        assertThatThrownBy(() -> LockNameTemplate.of("#id + @someBean", method("byId")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.byId(long): ")
                .hasMessageContaining("bean reference");
    }

    @Test
    void assignmentIsRejected() {
        assertThatThrownBy(() -> LockNameTemplate.of("#id = 5", method("byId")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.byId(long): ")
                .hasMessageContaining("assignment");
    }

    @Test
    void functionReferenceIsRejected() {
        assertThatThrownBy(() -> LockNameTemplate.of("#id + #fn()", method("byId")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.byId(long): ")
                .hasMessageContaining("function reference");
    }

    @Test
    void positionBeyondParametersIsRejected() {
        assertThatThrownBy(() -> LockNameTemplate.of("#p5", method("twoParameters")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.twoParameters(String, long): ")
                .hasMessageContaining("#p5")
                .hasMessageContaining("#root, #this, #tenant, #id, #p0, #p1, #a0, #a1");
    }

    @Test
    void positionJustPastTheLastParameterIsRejected() {
        for (String name : List.of("#p2", "#a2")) {
            assertThatThrownBy(() -> LockNameTemplate.of(name, method("twoParameters")))
                    .as(name)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("refers to " + name + ", which is not a parameter");
        }
    }

    @Test
    void blankNameIsRejected() {
        assertThatThrownBy(() -> LockNameTemplate.of("  ", method("report")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.report(): ")
                .hasMessageContaining("name must not be blank");
    }

    @Test
    void nullResultIsRejectedAtCallTime() {
        LockNameTemplate template = LockNameTemplate.of("#name", method("byName"));

        assertThatThrownBy(() -> template.resolve(new Object[] {null}, new Fixtures()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.byName(String): ")
                .hasMessageContaining("'#name'")
                .hasMessageContaining("null");
    }

    @Test
    void blankResultIsRejectedAtCallTime() {
        LockNameTemplate template = LockNameTemplate.of("#name", method("byName"));

        assertThatThrownBy(() -> template.resolve(new Object[] {" "}, new Fixtures()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.byName(String): ")
                .hasMessageContaining("'#name'")
                .hasMessageContaining("blank");
    }

    @Test
    void propertyOfNullIsRejectedAtCallTimeWithTheCause() {
        LockNameTemplate template = LockNameTemplate.of("#order.customerId", method("byOrder"));

        assertThatThrownBy(() -> template.resolve(new Object[] {null}, new Fixtures()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("@AdvisoryLocked on Fixtures.byOrder(Order): ")
                .hasMessageContaining("customerId")
                .hasCauseInstanceOf(org.springframework.expression.EvaluationException.class);
    }

    @Test
    void parameterNamesResolveExactlyAsSpelWouldForEveryArgumentType() {
        Method mixed = method("mixed");
        java.util.UUID uuid = java.util.UUID.fromString("6f1c2a9e-0000-4000-8000-000000000042");
        Object[][] calls = {{"acme", 7, uuid, 42L}, {"", -1, uuid, null}};
        String[] names = {"'t:' + #tenant", "'n:' + #n", "'u:' + #id", "'b:' + #boxed", "#tenant + ':' + #n",
            "#n", "#id", "#p3", "'p:' + #a1"};
        for (Object[] args : calls) {
            for (String name : names) {
                Object spel = spel(name, mixed, args);
                String expected = spel == null || String.valueOf(spel).isBlank() ? null : String.valueOf(spel);
                if (expected == null) {
                    assertThatThrownBy(() -> LockNameTemplate.of(name, mixed).resolve(args, null))
                            .as(name).isInstanceOf(IllegalArgumentException.class);
                } else {
                    assertThat(LockNameTemplate.of(name, mixed).resolve(args, null)).as(name).isEqualTo(expected);
                }
            }
        }
    }

    /** What plain SpEL makes of {@code name}, with the parameters as variables. */
    private static Object spel(String name, Method method, Object[] args) {
        org.springframework.expression.spel.support.SimpleEvaluationContext context =
                org.springframework.expression.spel.support.SimpleEvaluationContext.forReadOnlyDataBinding().build();
        String[] parameters = {"tenant", "n", "id", "boxed"};
        for (int i = 0; i < args.length; i++) {
            context.setVariable("p" + i, args[i]);
            context.setVariable("a" + i, args[i]);
            context.setVariable(parameters[i], args[i]);
        }
        return new org.springframework.expression.spel.standard.SpelExpressionParser().parseRaw(name).getValue(context);
    }

    private static Method method(String name) {
        return Arrays.stream(Fixtures.class.getDeclaredMethods())
                .filter(m -> m.getName().equals(name))
                .findFirst()
                .orElseThrow();
    }

    record Order(String customerId) {
    }

    /** A target whose class is not the one that declares the method. */
    static class SubclassOfFixtures extends Fixtures {
    }

    /** Stand-ins for {@code @AdvisoryLocked} methods; only their signatures matter, and how a target prints. */
    static class Fixtures {

        @Override
        public String toString() {
            return "fixtures";
        }

        void report() {
        }

        void byId(long id) {
        }

        void byOrder(Order order) {
        }

        void byName(String name) {
        }

        void twoParameters(String tenant, long id) {
        }

        void mixed(String tenant, int n, java.util.UUID id, Long boxed) {
        }

        void byIds(List<String> ids) {
        }

        void namedLikePositions(String a1, String p0) {
        }
    }
}
