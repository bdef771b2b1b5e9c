package dev.pals.benchmarks;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;

/**
 * The floor: what the lock costs on the wire and nothing more. Each thread keeps a connection
 * open with its statements prepared; a lock is {@code pg_try_advisory_lock} and
 * {@code pg_advisory_unlock}, a wait is a bare {@code pg_advisory_lock}.
 */
final class FloorContender extends Contender {

    private final BenchmarkDatabase database;
    private final String applicationName;
    private final List<Client> clients = new CopyOnWriteArrayList<>();
    private final ThreadLocal<Client> client = ThreadLocal.withInitial(this::newClient);

    FloorContender(BenchmarkDatabase database, String applicationName) {
        this.database = database;
        this.applicationName = applicationName;
    }

    @Override
    @Nullable Held tryHold(String name) throws SQLException {
        Client own = client.get();
        long key = rawKey(name);
        return own.call(own.tryLock, key) ? () -> own.call(own.unlock, key) : null;
    }

    /** Waits without a timeout: the least a server-side wait can cost. */
    @Override
    Held hold(String name, Duration timeout) throws SQLException {
        Client own = client.get();
        long key = rawKey(name);
        own.call(own.lock, key);
        return () -> own.call(own.unlock, key);
    }

    @Override
    public void close() throws SQLException {
        for (Client each : clients) {
            each.connection.close();
        }
    }

    private Client newClient() {
        try {
            Client created = new Client(database.connect(applicationName));
            clients.add(created);
            return created;
        } catch (SQLException e) {
            throw new IllegalStateException("Could not connect the floor's client: " + e.getMessage(), e);
        }
    }

    /** One thread's connection and its prepared statements. */
    private static final class Client {
        final Connection connection;
        final PreparedStatement tryLock;
        final PreparedStatement unlock;
        final PreparedStatement lock;

        Client(Connection connection) throws SQLException {
            this.connection = connection;
            this.tryLock = connection.prepareStatement("SELECT pg_try_advisory_lock(?)");
            this.unlock = connection.prepareStatement("SELECT pg_advisory_unlock(?)");
            this.lock = connection.prepareStatement("SELECT pg_advisory_lock(?) IS NOT NULL");
        }

        boolean call(PreparedStatement statement, long key) throws SQLException {
            statement.setLong(1, key);
            try (ResultSet row = statement.executeQuery()) {
                return row.next() && row.getBoolean(1);
            }
        }
    }
}
