package dev.pals;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The two bounds of a registry's session locks when the network goes silent, as configured and
 * as its PostgreSQL server reported them at the last connection it opened.
 *
 * <p>A holder is told it lost its lock within {@link #lossDetection()} of its connection going
 * silent; PostgreSQL ends a silent client's session, freeing its locks, no sooner than
 * {@link #serverRelease()}. While the first is safely shorter ({@link #isSafe()}), a holder whose
 * process runs is told of a loss before anyone else can be granted its lock.
 *
 * @param lossDetection the loss-check interval plus the network timeout
 * @param silentClientTimeout the server bound the registry asks each session for
 * @param serverRelease the shortest time after which the server ends a silent client's session,
 *     from the settings it reported; {@code null} before the first connection, or when those
 *     settings leave it to the operating system (a server that ignored them)
 * @param serverSettings the keepalive settings the server reported for that connection, for
 *     instance {@code tcp_keepalives_idle=10s, tcp_keepalives_interval=2s, tcp_keepalives_count=5,
 *     tcp_user_timeout=20000ms}; {@code null} before the first connection
 * @param problem why the bounds are not known to be safe, with the effective figures and what to
 *     do; {@code null} when they are, or before the first connection
 */
public record LeaseBounds(Duration lossDetection, Duration silentClientTimeout, @Nullable Duration serverRelease,
        @Nullable String serverSettings, @Nullable String problem) {

    /** Whether the server confirmed a bound safely longer than the loss detection. */
    public boolean isSafe() {
        return serverRelease != null && problem == null;
    }
}
