package dev.pals;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The keepalive settings a lock connection's PostgreSQL session reports it uses, read back after
 * {@link Lease#apply} set them; a 0 leaves that part to the server's operating system.
 *
 * @param keepalivesIdleMillis {@code tcp_keepalives_idle}
 * @param keepalivesIntervalMillis {@code tcp_keepalives_interval}
 * @param keepalivesCount {@code tcp_keepalives_count}
 * @param userTimeoutMillis {@code tcp_user_timeout}
 */
record ServerLease(long keepalivesIdleMillis, long keepalivesIntervalMillis, int keepalivesCount,
        long userTimeoutMillis) {

    /**
     * The shortest time after which the server may end the session of a client gone silent, or
     * {@code null} when the settings leave it to the operating system (about two hours on Linux):
     * the keepalive probes' end, or the user timeout when shorter.
     */
    @Nullable Duration release() {
        boolean keepalives = keepalivesIdleMillis > 0 && keepalivesIntervalMillis > 0 && keepalivesCount > 0;
        long probes = keepalives ? keepalivesIdleMillis + keepalivesIntervalMillis * keepalivesCount : Long.MAX_VALUE;
        long user = userTimeoutMillis > 0 ? Math.max(userTimeoutMillis, keepalives ? keepalivesIdleMillis : 0)
                : Long.MAX_VALUE;
        long shortest = Math.min(probes, user);
        return shortest == Long.MAX_VALUE ? null : Duration.ofMillis(shortest);
    }

    /** The settings as the server reported them, for messages. */
    String describe() {
        return "tcp_keepalives_idle=" + keepalivesIdleMillis / 1000 + "s, tcp_keepalives_interval="
                + keepalivesIntervalMillis / 1000 + "s, tcp_keepalives_count=" + keepalivesCount + ", tcp_user_timeout="
                + userTimeoutMillis + "ms";
    }
}
