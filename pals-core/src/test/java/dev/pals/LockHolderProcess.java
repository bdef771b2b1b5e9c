package dev.pals;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Another service in its own JVM, for {@link CrossProcessTest}: takes one lock and keeps it until
 * told to let go.
 *
 * <p>Arguments: {@code url user password namespace name mode}, where mode is {@code wait} (wait
 * up to 60 s for the lock) or {@code try} (do not wait). Prints {@code HELD} once it holds the lock,
 * or {@code CONTENDED} and exits 3 if it did not get it; then holds until stdin reads
 * {@code release} or closes, releases, prints {@code RELEASED} and exits 0.
 */
public final class LockHolderProcess {

    static final String HELD = "HELD";
    static final String CONTENDED = "CONTENDED";
    static final String RELEASED = "RELEASED";
    static final String RELEASE_COMMAND = "release";

    private LockHolderProcess() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: LockHolderProcess url user password namespace name wait|try");
            System.exit(2);
        }
        PGSimpleDataSource dataSource = new PGSimpleDataSource();
        dataSource.setUrl(args[0]);
        dataSource.setUser(args[1]);
        dataSource.setPassword(args[2]);
        boolean wait = "wait".equals(args[5]);

        try (LockRegistry registry = LockRegistry.builder(dataSource).namespace(args[3]).build()) {
            AdvisoryLock lock = registry.lock(args[4]);
            boolean acquired = wait ? lock.tryAcquire(Duration.ofSeconds(60)) : lock.tryAcquire();
            if (!acquired) {
                System.out.println(CONTENDED);
                System.out.flush();
                System.exit(3);
            }
            System.out.println(HELD);
            System.out.flush();
            awaitReleaseCommand();
            lock.release();
            System.out.println(RELEASED);
            System.out.flush();
        }
    }

    private static void awaitReleaseCommand() throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (RELEASE_COMMAND.equals(line.trim())) {
                return;
            }
        }
    }
}
