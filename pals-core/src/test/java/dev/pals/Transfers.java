package dev.pals;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;

/**
 * Transfers between two accounts, A and B, of a balances table, each under a lock set on both
 * accounts, half of them A to B and half B to A, each set named from-then-to. A transfer reads
 * both balances and writes both back in separate autocommit statements, so any overlap of two
 * transfers loses an update; a deadlock shows as a hold that times out.
 */
final class Transfers {

    static final long OPENING = 1_000_000;

    private Transfers() {
    }

    /** Creates {@code table} with both accounts at {@link #OPENING}. */
    static void createAccounts(Connection connection, String table) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE " + table + " (id text PRIMARY KEY, balance bigint NOT NULL)");
            statement.execute("INSERT INTO " + table + " VALUES ('A', " + OPENING + "), ('B', " + OPENING + ")");
        }
    }

    /**
     * Runs {@code threads} x {@code transfers} transfers of 1 through {@code registry}; thread t's
     * transfer i goes A to B when {@code t + i} is even.
     *
     * @return how many went A to B; the rest went B to A
     */
    static long run(LockRegistry registry, DataSource accounts, String table, int threads, int transfers,
            Duration timeout) throws Exception {
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Long>> work = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                work.add(executor.submit(() -> {
                    long aToB = 0;
                    try (Connection connection = accounts.getConnection()) {
                        for (int i = 0; i < transfers; i++) {
                            boolean forward = (thread + i) % 2 == 0;
                            String from = forward ? "A" : "B";
                            String to = forward ? "B" : "A";
                            try (HeldLockSet held = registry.locks(List.of("account:" + from, "account:" + to))
                                    .hold(timeout)) {
                                long fromBalance = balance(connection, table, from);
                                long toBalance = balance(connection, table, to);
                                setBalance(connection, table, from, fromBalance - 1);
                                setBalance(connection, table, to, toBalance + 1);
                            }
                            aToB += forward ? 1 : 0;
                        }
                    }
                    return aToB;
                }));
            }
            long aToB = 0;
            for (Future<Long> done : work) {
                aToB += done.get(120, TimeUnit.SECONDS);
            }
            return aToB;
        } finally {
            executor.shutdownNow();
        }
    }

    static long balance(Connection connection, String table, String account) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT balance FROM " + table + " WHERE id = ?")) {
            statement.setString(1, account);
            try (ResultSet rows = statement.executeQuery()) {
                rows.next();
                return rows.getLong(1);
            }
        }
    }

    private static void setBalance(Connection connection, String table, String account, long balance)
            throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(
                "UPDATE " + table + " SET balance = ? WHERE id = ?")) {
            statement.setLong(1, balance);
            statement.setString(2, account);
            statement.executeUpdate();
        }
    }
}
