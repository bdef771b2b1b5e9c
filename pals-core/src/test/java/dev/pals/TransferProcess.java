package dev.pals;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;

/**
 * A child JVM for {@link LockSetTest}: runs {@link Transfers} through a registry of its own and
 * prints {@code DONE <transfers A to B>}.
 *
 * <p>Arguments: url user password namespace table threads transfers.
 */
public final class TransferProcess {

    private TransferProcess() {
    }

    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[5]);
        HikariConfig locks = config(args, 4);
        HikariConfig accounts = config(args, threads);
        try (HikariDataSource lockPool = new HikariDataSource(locks);
                HikariDataSource accountPool = new HikariDataSource(accounts);
                LockRegistry registry = LockRegistry.builder(lockPool).namespace(args[3]).build()) {
            long aToB = Transfers.run(registry, accountPool, args[4], threads, Integer.parseInt(args[6]),
                    Duration.ofSeconds(20));
            System.out.println("DONE " + aToB);
        }
    }

    private static HikariConfig config(String[] args, int size) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(args[0]);
        config.setUsername(args[1]);
        config.setPassword(args[2]);
        config.setMaximumPoolSize(size);
        return config;
    }
}
