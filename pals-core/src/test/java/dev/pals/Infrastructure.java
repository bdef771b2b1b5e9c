package dev.pals;

import org.opentest4j.TestAbortedException;

/**
 * What a test does when this machine lacks a tool it needs (PgBouncer, a JDK 25, network
 * namespaces): it skips, saying what is missing; under CI ({@code CI} set) it fails, so that a
 * CI run never passes by skipping what it was meant to prove.
 */
final class Infrastructure {

    private Infrastructure() {
    }

    /**
     * To throw when the test cannot run here: a skip, or under CI a failure, whose message is
     * {@code missing}, saying what to install or set.
     */
    static RuntimeException missing(String missing) {
        if (System.getenv("CI") != null) {
            return new IllegalStateException(missing + "; CI is set, so this fails instead of skipping");
        }
        return new TestAbortedException(missing);
    }
}
