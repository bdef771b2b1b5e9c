package dev.pals.spring.actuate;

import dev.pals.LeaseBounds;
import dev.pals.LockRegistry;
import dev.pals.spring.LockLostEvent;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;
import org.springframework.context.ApplicationListener;

/**
 * The health of the lock database, as the registry needs it: reachable through the lock pool, a
 * primary (advisory locks on a standby exclude nobody on the primary), and keeping one session per
 * connection (a pooler in transaction mode would hand locks to other clients). DOWN if any of
 * these fails. Details: the registry's holds, waits and connections, and the locks lost in the
 * last 15 minutes (counted up to 100) with the last one, learnt from {@link LockLostEvent}s, and
 * the lease bounds ({@link LockRegistry#leaseBounds()}: how soon a holder is told of a silent
 * connection, how soon the server frees its locks, and a problem when the server did not apply
 * what was asked). Losses
 * do not by themselves turn it DOWN: the registry has reported them to their holders, and it
 * takes locks again once the database is back. A check waits at most the lock pool's connection
 * timeout for a connection.
 *
 * <p>With a {@link ServerLockTable}, the details also show the server's shared lock table
 * ({@code serverLockTable}: entries used, capacity, the share in use, and a {@code warning} at and
 * above the threshold). A nearly full table leaves the status UP: the instance still serves, and
 * taking it out of the load balancer would not free a single entry (the locks are the fleet's);
 * alert on the warning or on the {@code pals.server.locks.*} gauges instead.
 */
public final class LockDatabaseHealthIndicator extends AbstractHealthIndicator
        implements ApplicationListener<LockLostEvent> {

    private final LockRegistry registry;
    private final DataSource lockDatabase;
    private final RecentLockLosses losses = new RecentLockLosses(Clock.systemUTC());
    private final @Nullable ServerLockTable lockTable;

    /**
     * A health check of the lock database.
     *
     * @param registry the registry whose holds, waits and connections the details show
     * @param lockDatabase the lock pool, which the check borrows a connection from
     */
    public LockDatabaseHealthIndicator(LockRegistry registry, DataSource lockDatabase) {
        this(registry, lockDatabase, null);
    }

    /**
     * A health check of the lock database that also shows the server's lock table.
     *
     * @param registry the registry whose holds, waits and connections the details show
     * @param lockDatabase the lock pool, which the check borrows a connection from
     * @param lockTable the server's lock table, or {@code null} not to show it
     */
    public LockDatabaseHealthIndicator(LockRegistry registry, DataSource lockDatabase,
            @Nullable ServerLockTable lockTable) {
        super("Lock database health check failed");
        this.registry = registry;
        this.lockDatabase = lockDatabase;
        this.lockTable = lockTable;
    }

    @Override
    public void onApplicationEvent(LockLostEvent event) {
        losses.lost(event.getLock().name(), event.getCause());
    }

    /** The lease bounds as health details: figures in ISO-8601 durations, and the problem if any. */
    static Map<String, Object> leaseDetails(LeaseBounds lease) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("lossDetection", lease.lossDetection().toString());
        details.put("silentClientTimeout", lease.silentClientTimeout().toString());
        Duration release = lease.serverRelease();
        details.put("serverRelease", release == null ? "unknown" : release.toString());
        String settings = lease.serverSettings();
        if (settings != null) {
            details.put("serverSettings", settings);
        }
        details.put("safe", lease.isSafe());
        String problem = lease.problem();
        if (problem != null) {
            details.put("problem", problem);
        }
        return details;
    }

    /** The lock table's reading as health details; a warning at and above the threshold. */
    static Map<String, Object> lockTableDetails(ServerLockTable lockTable) {
        Map<String, Object> details = new LinkedHashMap<>();
        ServerLockTable.Usage usage = lockTable.usage();
        details.put("warningThreshold", ServerLockTable.percent(lockTable.warningThreshold()));
        if (usage == null) {
            details.put("unknown", String.valueOf(lockTable.failure()));
            return details;
        }
        details.put("used", usage.used());
        details.put("capacity", usage.capacity());
        details.put("usage", ServerLockTable.percent(usage.ratio()));
        details.put("readAt", usage.readAt().toString());
        if (lockTable.nearlyFull(usage)) {
            details.put("warning", "the server's lock table is nearly full; when it is, locks of every client fail "
                    + "with 53200 (out of shared memory): raise max_locks_per_transaction on the server, or hold "
                    + "fewer locks");
        }
        return details;
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) {
        builder.withDetail("heldLocks", registry.heldLocks())
                .withDetail("waitingLocks", registry.waitingLocks())
                .withDetail("openConnections", registry.openConnections())
                .withDetails(losses.details());
        LeaseBounds lease = registry.leaseBounds();
        if (lease != null) {
            builder.withDetail("lease", leaseDetails(lease));
        }
        int firstPid;
        int secondPid;
        boolean standby;
        try (Connection connection = lockDatabase.getConnection(); Statement statement = connection.createStatement()) {
            try (ResultSet row = statement.executeQuery("SELECT pg_backend_pid(), pg_is_in_recovery()")) {
                row.next();
                firstPid = row.getInt(1);
                standby = row.getBoolean(2);
            }
            try (ResultSet row = statement.executeQuery("SELECT pg_backend_pid()")) {
                row.next();
                secondPid = row.getInt(1);
            }
        } catch (SQLException e) {
            builder.down(e).withDetail("reachable", false);
            return;
        }
        builder.withDetail("reachable", true);
        if (lockTable != null) {
            builder.withDetail("serverLockTable", lockTableDetails(lockTable));
        }
        if (standby) {
            builder.down().withDetail("server", "a standby in recovery: advisory locks there do not exclude clients "
                    + "of the primary; point pals.datasource.url at the primary");
            return;
        }
        if (firstPid != secondPid) {
            builder.down().withDetail("sessionAffinity", "lost: two statements on one connection ran on backends "
                    + firstPid + " and " + secondPid + ", so a pooler in transaction mode is in between; use session "
                    + "mode or connect to PostgreSQL directly");
            return;
        }
        builder.up().withDetail("sessionAffinity", "kept");
    }
}
