package dev.pals.spring.aop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.LockScope;
import java.time.Duration;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;

/** Which methods {@code @AdvisoryLocked} locks, and which classes need a proxy for a scope. */
class LockedMethodDiscoveryTest {

    private final LockedMethods lockedMethods = new LockedMethods(Duration.ofSeconds(5));

    @Test
    void classLevelAnnotationLocksThePublicInstanceMethodsOnly() throws Exception {
        assertThat(lockedMethods.find(ClassLocked.class.getMethod("run"), ClassLocked.class)).isNotNull();
        assertThat(lockedMethods.find(ClassLocked.class.getDeclaredMethod("helper"), ClassLocked.class)).isNull();
        assertThat(lockedMethods.find(ClassLocked.class.getMethod("utility"), ClassLocked.class)).isNull();
    }

    @Test
    void classLevelAnnotationLeavesEqualsHashCodeAndToStringUnlocked() throws Exception {
        assertThat(lockedMethods.find(ClassLocked.class.getMethod("equals", Object.class), ClassLocked.class)).isNull();
        assertThat(lockedMethods.find(ClassLocked.class.getMethod("hashCode"), ClassLocked.class)).isNull();
        assertThat(lockedMethods.find(ClassLocked.class.getMethod("toString"), ClassLocked.class)).isNull();
    }

    @Test
    void classNeedsAProxyForAScopeExactlyWhenOneOfItsMethodsIsLockedInIt() {
        assertThat(lockedMethods.inspect(SessionLocked.class, LockScope.SESSION)).isTrue();
        assertThat(lockedMethods.inspect(SessionLocked.class, LockScope.TRANSACTION)).isFalse();
        assertThat(lockedMethods.inspect(TransactionLocked.class, LockScope.TRANSACTION)).isTrue();
        assertThat(lockedMethods.inspect(TransactionLocked.class, LockScope.SESSION)).isFalse();
        assertThat(lockedMethods.inspect(Unlocked.class, LockScope.SESSION)).isFalse();
        // a JDK class can carry no annotation of ours
        assertThat(lockedMethods.inspect(ArrayList.class, LockScope.SESSION)).isFalse();
    }

    @Test
    void constantNamesAreThoseOfTheLockedMethodsSeenSoFar() {
        assertThat(lockedMethods.constantNames()).isEmpty();

        lockedMethods.inspect(SessionLocked.class, LockScope.SESSION);

        assertThat(lockedMethods.constantNames()).containsExactly("nightly-report");
    }

    @AdvisoryLocked("job")
    static class ClassLocked {

        public void run() {
        }

        protected void helper() {
        }

        public static void utility() {
        }

        @Override
        public boolean equals(Object other) {
            return other == this;
        }

        @Override
        public int hashCode() {
            return 1;
        }

        @Override
        public String toString() {
            return "locked";
        }
    }

    static class SessionLocked {

        public void unlocked() {
        }

        @AdvisoryLocked("nightly-report")
        public void report() {
        }

        @AdvisoryLocked("'account:' + #id")
        public void account(long id) {
        }
    }

    static class TransactionLocked {

        @AdvisoryLocked(name = "job", scope = LockScope.TRANSACTION)
        public void run() {
        }
    }

    static class Unlocked {

        public void run() {
        }
    }
}
