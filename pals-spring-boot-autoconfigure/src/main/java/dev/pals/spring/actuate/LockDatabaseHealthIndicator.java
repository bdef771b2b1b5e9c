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
 */
public final class LockDatabaseHealthIndicator extends AbstractHealthIndicator
        implements ApplicationListener<LockLostEvent> {

    private final LockRegistry registry;
    private final DataSource lockDatabase;
    private final RecentLockLosses losses = new RecentLockLosses(Clock.systemUTC());

    /**
     * A health check of the lock database.
     *
     * @param registry the registry whose holds, waits and connections the details show
     * @param lockDatabase the lock pool, which the check borrows a connection from
     */
    public LockDatabaseHealthIndicator(LockRegistry registry, DataSource lockDatabase) {
        super("Lock database health check failed");
        this.registry = registry;
        this.lockDatabase = lockDatabase;
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
