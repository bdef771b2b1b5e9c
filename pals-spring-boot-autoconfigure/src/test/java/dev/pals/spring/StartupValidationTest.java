package dev.pals.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** A wrong @AdvisoryLocked fails start-up with the method named and what to change. */
class StartupValidationTest extends StarterTestSupport {

    static Object[][] mistakes() {
        return new Object[][] {
            {ContradictoryTimeout.class, "ContradictoryTimeout.run()", "is set but blocking = false"},
            {UnparsableTimeout.class, "UnparsableTimeout.run()", "timeout = \"soon\" is not a duration"},
            {NegativeTimeout.class, "NegativeTimeout.run()", "timeout = \"-5s\" is negative"},
            {SyntaxError.class, "SyntaxError.run(long)", "is not a valid SpEL expression"},
            {UnknownParameter.class, "UnknownParameter.run(long)", "refers to #nope, which is not a parameter"},
            {TypeReference.class, "TypeReference.run(long)", "uses a type reference T(...)"},
            {BeanReference.class, "BeanReference.run(long)", "uses a bean reference @... or &..."},
            {BlankName.class, "BlankName.run()", "name must not be blank"},
            {SkipReturningPrimitive.class, "SkipReturningPrimitive.run()", "which a method returning int cannot"},
            {TransactionScopeAsync.class, "TransactionScopeAsync.run()", "cannot hold a lock until a CompletionStage completes"},
            {FinalMethod.class, "FinalMethod.run()", "the method is final, so the Spring proxy cannot intercept it"},
            {PrivateMethod.class, "PrivateMethod.run()", "the method is private, so the Spring proxy cannot intercept it"},
            {PlainFuture.class, "PlainFuture.run()", "it returns Future, whose work runs after the call returns"},
            {TooLongTimeout.class, "TooLongTimeout.run()", "is longer than about 24 days"},
            {BlankGroup.class, "BlankGroup.run()", "group = \" \" is blank"},
            {HoldAtLeastInTransaction.class, "HoldAtLeastInTransaction.run()", "cannot keep a TRANSACTION lock"},
            {UnparsableHoldAtLeast.class, "UnparsableHoldAtLeast.run()", "holdAtLeast = \"a while\" is not a duration"},
            {NegativeHoldAtLeast.class, "NegativeHoldAtLeast.run()", "holdAtLeast = \"-1s\" is negative"},
            {TooLongHoldAtLeast.class, "TooLongHoldAtLeast.run()", "holdAtLeast = \"30d\" is longer than about 24 days"},
            {ClassMember.class, "ClassMember.run()", "reads packageName of a Class"},
        };
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("mistakes")
    void mistakeFailsStartUpNamingTheMethodAndTheProblem(Class<?> bean, String method, String problem) {
        instance().withBean(bean).run(context -> {
            assertThat(context).hasFailed();
            assertThat(ourMessage(context.getStartupFailure()))
                    .startsWith("@AdvisoryLocked on " + method + ": ").contains(problem);
        });
    }

    /** The message of the exception, somewhere in the chain, that names the annotated method. */
    private static String ourMessage(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause.getMessage() != null && cause.getMessage().startsWith("@AdvisoryLocked on ")) {
                return cause.getMessage();
            }
        }
        throw new AssertionError("no exception names the method", failure);
    }

    static class ContradictoryTimeout {
        @AdvisoryLocked(name = "job", blocking = false, timeout = "5s")
        public void run() {
        }
    }

    static class UnparsableTimeout {
        @AdvisoryLocked(name = "job", timeout = "soon")
        public void run() {
        }
    }

    static class NegativeTimeout {
        @AdvisoryLocked(name = "job", timeout = "-5s")
        public void run() {
        }
    }

    static class SyntaxError {
        @AdvisoryLocked(name = "'account:' + #id +")
        public void run(long id) {
        }
    }

    static class UnknownParameter {
        @AdvisoryLocked(name = "'account:' + #nope")
        public void run(long id) {
        }
    }

    static class TypeReference {
        @AdvisoryLocked(name = "T(java.lang.Runtime).getRuntime().toString() + #id")
        public void run(long id) {
        }
    }

    static class BeanReference {
        @AdvisoryLocked(name = "@dataSource.toString() + #id")
        public void run(long id) {
        }
    }

    static class BlankName {
        @AdvisoryLocked(name = " ")
        public void run() {
        }
    }

    static class SkipReturningPrimitive {
        @AdvisoryLocked(name = "job", blocking = false, onContention = OnContention.SKIP)
        public int run() {
            return 1;
        }
    }

    static class TransactionScopeAsync {
        @AdvisoryLocked(name = "job", scope = LockScope.TRANSACTION)
        public CompletableFuture<String> run() {
            return CompletableFuture.completedFuture("x");
        }
    }

    static class FinalMethod {
        @AdvisoryLocked("job")
        public final void run() {
        }
    }

    static class PrivateMethod {
        public void call() {
            run();
        }

        @AdvisoryLocked("job")
        private void run() {
        }
    }

    static class PlainFuture {
        @AdvisoryLocked("job")
        public java.util.concurrent.Future<String> run() {
            return CompletableFuture.completedFuture("x");
        }
    }

    static class TooLongTimeout {
        @AdvisoryLocked(name = "job", timeout = "30d")
        public void run() {
        }
    }

    static class BlankGroup {
        @AdvisoryLocked(name = "job", group = " ")
        public void run() {
        }
    }

    static class HoldAtLeastInTransaction {
        @AdvisoryLocked(name = "job", scope = LockScope.TRANSACTION, holdAtLeast = "30s")
        public void run() {
        }
    }

    static class UnparsableHoldAtLeast {
        @AdvisoryLocked(name = "job", holdAtLeast = "a while")
        public void run() {
        }
    }

    static class NegativeHoldAtLeast {
        @AdvisoryLocked(name = "job", holdAtLeast = "-1s")
        public void run() {
        }
    }

    static class TooLongHoldAtLeast {
        @AdvisoryLocked(name = "job", holdAtLeast = "30d")
        public void run() {
        }
    }

    static class ClassMember {
        @AdvisoryLocked("#root.targetClass.packageName")
        public void run() {
        }
    }
}
