package dev.pals.spring;

/** What a locked method does when its lock is not obtained (taken, or the wait timed out). */
public enum OnContention {

    /** The method does not run and the caller gets an {@link dev.pals.AcquireFailureException}. */
    THROW,

    /**
     * The method does not run and the call returns at once: nothing for {@code void}, an empty
     * {@code Optional} for {@code Optional}, a completed {@code CompletableFuture} of {@code null}
     * for a {@code CompletionStage}, otherwise {@code null}. Logged at debug level, so a
     * {@code @Scheduled} job that another instance is running does not fill the log.
     */
    SKIP
}
