package dev.pals;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A service on a test host of its own, for {@link PartitionTest}: takes one lock, or waits for
 * it, and says what it was told, with the wall-clock time.
 *
 * <p>Arguments: {@code url namespace name hold|wait lossCheckMillis networkTimeoutMillis
 * silentClientSeconds}, where a 0 keeps the registry's default. Prints {@code HELD} once it holds
 * the lock ({@code hold}: without waiting; {@code wait}: prints {@code WAITING} and then waits up to
 * two minutes), {@code LOST <millis>} when told it lost it, and exits when stdin closes.
 */
public final class PartitionedProcess {

    static final String HELD = "HELD";
    static final String WAITING = "WAITING";
    static final String LOST = "LOST";

    private PartitionedProcess() {
    }

    public static void main(String[] args) throws Exception {
        PGSimpleDataSource dataSource = new PGSimpleDataSource();
        dataSource.setUrl(args[0]);
        dataSource.setUser("postgres");
        LockRegistry.Builder builder = LockRegistry.builder(dataSource).namespace(args[1])
                .lossListener((lock, cause) -> say(LOST + " " + System.currentTimeMillis()));
        if (Long.parseLong(args[4]) > 0) {
            builder.lossCheckInterval(Duration.ofMillis(Long.parseLong(args[4])));
        }
        if (Long.parseLong(args[5]) > 0) {
            builder.networkTimeout(Duration.ofMillis(Long.parseLong(args[5])));
        }
        if (Long.parseLong(args[6]) > 0) {
            builder.silentClientTimeout(Duration.ofSeconds(Long.parseLong(args[6])));
        }
        try (LockRegistry registry = builder.build()) {
            AdvisoryLock lock = registry.lock(args[2]);
            if ("wait".equals(args[3])) {
                // the registry's first connection is opened before the wait, so WAITING means "about to wait"
                AdvisoryLock warmUp = registry.lock(args[2] + "-warm-up");
                warmUp.tryAcquire();
                warmUp.release();
                say(WAITING);
                if (lock.tryAcquire(Duration.ofMinutes(2))) {
                    say(HELD);
                }
            } else if (lock.tryAcquire()) {
                say(HELD);
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            while (in.readLine() != null) {
                // held until stdin closes
            }
        }
    }

    private static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
