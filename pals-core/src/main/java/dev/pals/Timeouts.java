package dev.pals;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import org.jspecify.annotations.Nullable;

/** Checks and converts wait durations; {@link #FOREVER} is the only duration past PostgreSQL's limit. */
final class Timeouts {

    static final Duration FOREVER = ChronoUnit.FOREVER.getDuration();

    /** {@code lock_timeout} is an int of milliseconds. */
    static final Duration LONGEST = Duration.ofMillis(Integer.MAX_VALUE);

    private Timeouts() {
    }

    static Duration check(@Nullable Duration timeout, String what) {
        if (timeout == null) {
            throw new IllegalArgumentException("The " + what + " must not be null; use Duration.ZERO not to wait "
                    + "or LockRegistry.FOREVER to wait without limit");
        }
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("The " + what + " must not be negative, but was " + timeout
                    + "; use Duration.ZERO not to wait");
        }
        if (!timeout.equals(FOREVER) && timeout.compareTo(LONGEST) > 0) {
            throw new IllegalArgumentException("The " + what + " " + timeout + " is longer than PostgreSQL can wait ("
                    + LONGEST + "); use LockRegistry.FOREVER to wait without limit");
        }
        return timeout;
    }

    static boolean isForever(Duration timeout) {
        return timeout.equals(FOREVER);
    }

    /** A deadline in {@link System#nanoTime()} terms, or {@link Long#MAX_VALUE} for forever. */
    static long deadline(Duration timeout) {
        if (isForever(timeout)) {
            return Long.MAX_VALUE;
        }
        return System.nanoTime() + timeout.toNanos();
    }

    /** Nanoseconds left until {@code deadline}, never negative; {@link Long#MAX_VALUE} for forever. */
    static long remaining(long deadline) {
        if (deadline == Long.MAX_VALUE) {
            return Long.MAX_VALUE;
        }
        return Math.max(0, deadline - System.nanoTime());
    }

    /** The time left until {@code deadline} as a wait: {@link #FOREVER} for forever. */
    static Duration left(long deadline) {
        return deadline == Long.MAX_VALUE ? FOREVER : Duration.ofNanos(remaining(deadline));
    }

    /** The {@code lock_timeout} setting for the time left: whole milliseconds, at least 1, or 0 for no limit. */
    static String lockTimeoutSetting(long deadline) {
        if (deadline == Long.MAX_VALUE) {
            return "0";
        }
        long millis = (remaining(deadline) + 999_999) / 1_000_000;
        return Long.toString(Math.max(1, Math.min(millis, Integer.MAX_VALUE)));
    }

    static String describe(Duration timeout) {
        return isForever(timeout) ? "forever" : timeout.toString();
    }
}
