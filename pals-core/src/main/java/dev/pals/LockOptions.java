package dev.pals;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Per-handle settings: the mode, and the defaults that {@link AdvisoryLock#acquire()} and
 * {@link AdvisoryLock#hold()} use. A setting left unset falls back to the registry's default.
 * Instances are immutable; each {@code with} method returns a copy.
 *
 * <pre>{@code
 * registry.lock("report", LockOptions.shared().withTimeout(Duration.ofSeconds(5)));
 * registry.lock("job", LockOptions.exclusive().withBlocking(false));
 * }</pre>
 */
public final class LockOptions {

    private static final LockOptions EXCLUSIVE = new LockOptions(LockMode.EXCLUSIVE, null, null, null);
    private static final LockOptions SHARED = new LockOptions(LockMode.SHARED, null, null, null);

    private final LockMode mode;
    private final @Nullable Boolean blocking;
    private final @Nullable Duration timeout;
    private final @Nullable String group;

    private LockOptions(LockMode mode, @Nullable Boolean blocking, @Nullable Duration timeout,
            @Nullable String group) {
        this.mode = mode;
        this.blocking = blocking;
        this.timeout = timeout;
        this.group = group;
    }

    /** Exclusive mode with the registry's defaults. */
    public static LockOptions exclusive() {
        return EXCLUSIVE;
    }

    /** Shared mode with the registry's defaults. */
    public static LockOptions shared() {
        return SHARED;
    }

    /** A copy in the given mode. */
    public LockOptions withMode(LockMode mode) {
        return new LockOptions(Objects.requireNonNull(mode, "mode"), blocking, timeout, group);
    }

    /**
     * A copy whose default acquisition waits ({@code true}) or only tries once ({@code false}).
     */
    public LockOptions withBlocking(boolean blocking) {
        return new LockOptions(mode, blocking, timeout, group);
    }

    /**
     * A copy whose default acquisition waits at most {@code timeout}: zero means do not wait,
     * {@link LockRegistry#FOREVER} means wait without limit.
     *
     * @throws IllegalArgumentException if the timeout is negative or longer than PostgreSQL's
     *     {@code lock_timeout} can express (about 24 days) without being {@code FOREVER}
     */
    public LockOptions withTimeout(Duration timeout) {
        return new LockOptions(mode, blocking, Timeouts.check(timeout, "timeout"), group);
    }

    /**
     * A copy that reports under {@code group} in metrics and traces ({@link LockInfo#group()}).
     * Groups become metric tags, so keep them few: {@code "account"} for every
     * {@code account:<id>} lock, never the id itself.
     *
     * @throws IllegalArgumentException if the group is blank
     */
    public LockOptions withGroup(String group) {
        return new LockOptions(mode, blocking, timeout, LockKey.requireText(group, "group"));
    }

    /** The mode. */
    public LockMode mode() {
        return mode;
    }

    /** Whether acquisition waits by default, or {@code null} to use the registry's default. */
    public @Nullable Boolean blocking() {
        return blocking;
    }

    /** The default wait, or {@code null} to use the registry's default. */
    public @Nullable Duration timeout() {
        return timeout;
    }

    /** The group for metrics and traces, or {@code null} for {@link LockInfo#UNGROUPED}. */
    public @Nullable String group() {
        return group;
    }

    @Override
    public String toString() {
        return "LockOptions[mode=" + mode + ", blocking=" + blocking + ", timeout=" + timeout + ", group=" + group
                + "]";
    }
}
