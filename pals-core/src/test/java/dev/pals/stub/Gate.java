package dev.pals.stub;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * Holds the next statement of one kind (on one key, or any) at the server's door until the test
 * says what happens to it: {@link #open()} runs it, {@link #fail(String)} fails it with a SQLSTATE,
 * as the server or the network would. A test thereby forces one interleaving: it waits for the
 * statement to {@linkplain #awaitArrival() arrive}, lets other threads run into the state that
 * statement leaves, and then decides. Every wait on a gate is bounded, so a bug fails the test
 * instead of hanging it.
 */
public final class Gate {

    /** How long a gate waits for its statement, and a statement for its gate to open. */
    public static final long PATIENCE_SECONDS = 10;

    /** What a statement does, as gates match it. */
    public enum Kind {
        /** Start-up probes and settings of a new connection, and their reset. */
        SETUP,
        /** {@code pg_try_advisory_lock[_shared]}, alone or in a batch. */
        TRY,
        /** {@code pg_advisory_unlock[_shared]}, alone or in a batch. */
        UNLOCK,
        /** {@code pg_advisory_lock[_shared]} under {@code lock_timeout}. */
        WAIT,
        /** {@code pg_advisory_unlock_all()}. */
        UNLOCK_ALL,
        /** {@code SELECT 1}, the loss check. */
        PING,
        /** The {@code pg_locks} queries. */
        PG_LOCKS
    }

    final Kind kind;
    private final @Nullable StubKey key;
    private final CountDownLatch arrived = new CountDownLatch(1);
    /** Empty to run the statement, else the SQLSTATE it fails with. */
    private final CompletableFuture<Optional<String>> verdict = new CompletableFuture<>();
    /** The backend whose statement is held here. */
    private volatile @Nullable StubBackend at;

    Gate(Kind kind, @Nullable StubKey key) {
        this.kind = kind;
        this.key = key;
    }

    boolean matches(Kind statement, List<StubKey> keys) {
        return statement == kind && (key == null || keys.contains(key));
    }

    /** Waits until the statement is held here. */
    public Gate awaitArrival() throws InterruptedException {
        if (!arrived.await(PATIENCE_SECONDS, TimeUnit.SECONDS)) {
            throw new AssertionError("No " + kind + " statement" + (key == null ? "" : " on " + key)
                    + " reached its gate within " + PATIENCE_SECONDS + " s");
        }
        return this;
    }

    /** Lets the statement run. */
    public void open() {
        verdict.complete(Optional.empty());
    }

    /**
     * Fails the statement with {@code sqlState}; a connection failure (class 08) or a terminated
     * backend (57P01-57P03) ends its session first, which frees its locks, as PostgreSQL does.
     */
    public void fail(String sqlState) {
        verdict.complete(Optional.of(sqlState));
    }

    /** The connection of the statement held here was aborted: the statement fails as its socket closes. */
    void ended(StubBackend backend) {
        if (at == backend) {
            verdict.complete(Optional.of(StubServer.CONNECTION_FAILURE));
        }
    }

    /** Called by the statement: waits for the verdict. */
    Optional<String> pass(StubBackend backend) throws SQLException {
        at = backend;
        if (backend.isTerminated()) {
            ended(backend);
        }
        arrived.countDown();
        try {
            return verdict.get(PATIENCE_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new SQLException("The test never opened the gate on this " + kind + " statement", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("Interrupted at the gate on a " + kind + " statement", e);
        } catch (ExecutionException e) {
            throw new SQLException(e.getCause());
        }
    }
}
