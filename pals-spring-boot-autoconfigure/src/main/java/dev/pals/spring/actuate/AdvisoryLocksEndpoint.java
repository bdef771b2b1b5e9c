package dev.pals.spring.actuate;

import dev.pals.LeaseBounds;
import dev.pals.LockActivity;
import dev.pals.LockKey;
import dev.pals.LockRegistry;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.actuate.endpoint.OperationResponseBody;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;

/**
 * The {@code advisorylocks} endpoint: who holds which lock, and since when. Read-only.
 *
 * <p>{@code instance}: this instance's holds and waiting acquisitions, from its registry, with
 * names, groups, owning threads and backends. {@code cluster}: every advisory lock of the lock
 * database from {@code pg_locks} joined with {@code pg_stat_activity}, whoever holds or awaits
 * it, with keys named wherever this instance can name them: its own locks, and every constant
 * name of an {@code @AdvisoryLocked} method. Other keys show as keys only, since a key cannot be
 * turned back into a name.
 */
@Endpoint(id = "advisorylocks")
public final class AdvisoryLocksEndpoint {

    /** Rows of {@code pg_locks} shown at most. */
    static final int CLUSTER_LIMIT = 1000;

    private final LockRegistry registry;
    private final ClusterLocks cluster;
    private final Supplier<Collection<String>> knownNames;

    /**
     * An endpoint on {@code registry}'s locks and the lock database's.
     *
     * @param registry the registry whose holds and waits are this instance's
     * @param lockDatabase a DataSource on the lock database, for the cluster view
     * @param knownNames names to translate keys with, in the registry's namespace
     */
    public AdvisoryLocksEndpoint(LockRegistry registry, DataSource lockDatabase,
            Supplier<Collection<String>> knownNames) {
        this.registry = registry;
        this.cluster = new ClusterLocks(lockDatabase);
        this.knownNames = knownNames;
    }

    /**
     * This instance's locks now, and the lock database's. The cluster view is read with one
     * query through the lock pool; if it fails, {@code cluster.error} says why and the instance
     * view is still there.
     */
    @ReadOperation
    public AdvisoryLocksDescriptor advisoryLocks() {
        List<LockActivity> activity = registry.activity();
        List<LockDescriptor> held = new ArrayList<>();
        List<LockDescriptor> waiting = new ArrayList<>();
        Map<LockKey, String> names = new HashMap<>();
        for (String name : knownNames.get()) {
            names.put(LockKey.of(registry.namespace(), name), name);
        }
        Map<HeldBy, Instant> heldSince = new HashMap<>();
        Set<Integer> ownBackends = new HashSet<>();
        for (LockActivity each : activity) {
            names.put(each.lock().key(), each.lock().name());
            LockDescriptor descriptor = LockDescriptor.of(each);
            Integer pid = each.backendPid();
            if (pid != null) {
                ownBackends.add(pid);
            }
            if (each.state() == LockActivity.State.HELD) {
                held.add(descriptor);
                if (pid != null) {
                    heldSince.merge(new HeldBy(each.lock().key(), pid), each.since(),
                            (a, b) -> a.isBefore(b) ? a : b);
                }
            } else {
                waiting.add(descriptor);
            }
        }
        LeaseBounds lease = registry.leaseBounds();
        InstanceDescriptor instance = new InstanceDescriptor(registry.openConnections(),
                lease == null ? null : LockDatabaseHealthIndicator.leaseDetails(lease), held, waiting);
        return new AdvisoryLocksDescriptor(registry.namespace(), instance,
                clusterView(names, heldSince, ownBackends));
    }

    private ClusterDescriptor clusterView(Map<LockKey, String> names, Map<HeldBy, Instant> heldSince,
            Set<Integer> ownBackends) {
        List<ClusterLocks.Row> rows;
        try {
            rows = cluster.read(CLUSTER_LIMIT + 1);
        } catch (SQLException | RuntimeException e) {
            return new ClusterDescriptor(List.of(), false, "Could not read pg_locks from the lock database: "
                    + e.getMessage());
        }
        List<ClusterLockDescriptor> locks = new ArrayList<>();
        for (ClusterLocks.Row row : rows.subList(0, Math.min(rows.size(), CLUSTER_LIMIT))) {
            locks.add(new ClusterLockDescriptor(row.key().toString(), names.get(row.key()),
                    row.shared() ? "shared" : "exclusive", row.granted() ? "held" : "waiting", row.pid(),
                    row.pid() != null && ownBackends.contains(row.pid()), row.applicationName(), row.clientAddress(),
                    row.sessionStart(), row.transactionStart(),
                    row.granted() && row.pid() != null ? heldSince.get(new HeldBy(row.key(), row.pid())) : null,
                    row.waitingSince()));
        }
        return new ClusterDescriptor(locks, rows.size() > CLUSTER_LIMIT, null);
    }

    private record HeldBy(LockKey key, int pid) {
    }

    /**
     * What the endpoint returns, written by the actuator's own JSON mapper whatever the service's
     * Jackson settings.
     *
     * @param namespace the namespace this instance's names are qualified with, or {@code null}
     * @param instance this instance's holds and waits
     * @param cluster every advisory lock of the lock database
     */
    public record AdvisoryLocksDescriptor(@Nullable String namespace, InstanceDescriptor instance,
            ClusterDescriptor cluster) implements OperationResponseBody {
    }

    /**
     * This instance's locks.
     *
     * @param openConnections lock-pool connections its registry has out
     * @param lease the lease bounds, as in the health details; {@code null} for locks kept in memory
     * @param held holds now, one per handle (and per tracked transaction)
     * @param waiting acquisitions that may wait and are not answered yet
     */
    public record InstanceDescriptor(int openConnections, @Nullable Map<String, Object> lease,
            List<LockDescriptor> held, List<LockDescriptor> waiting) {
    }

    /**
     * One hold or waiting acquisition of this instance.
     *
     * @param name the lock's name, or its key's text for a lock taken by key
     * @param key the PostgreSQL key, as in {@code pg_locks}
     * @param mode {@code exclusive} or {@code shared}
     * @param scope {@code session} or {@code transaction}
     * @param group the group it reports under in metrics
     * @param owner the thread that took the hold or waits (a registry thread for {@code acquireAsync})
     * @param since when the hold was taken or the wait began
     * @param holdCount how many times the handle holds it; 0 while waiting
     * @param backendPid the PostgreSQL backend holding or waiting in the server, if any
     */
    public record LockDescriptor(String name, String key, String mode, String scope, String group, String owner,
            Instant since, int holdCount, @Nullable Integer backendPid) {

        static LockDescriptor of(LockActivity activity) {
            return new LockDescriptor(activity.lock().name(), activity.lock().key().toString(),
                    activity.lock().mode().name().toLowerCase(Locale.ROOT),
                    activity.lock().scope().name().toLowerCase(Locale.ROOT), activity.lock().group(),
                    activity.owner(), activity.since(), activity.holdCount(), activity.backendPid());
        }
    }

    /**
     * The lock database's advisory locks.
     *
     * @param locks one row per session holding or waiting for a key, holders first
     * @param truncated whether there were more than the {@value #CLUSTER_LIMIT} shown
     * @param error why the database could not be read, or {@code null}
     */
    public record ClusterDescriptor(List<ClusterLockDescriptor> locks, boolean truncated, @Nullable String error) {
    }

    /**
     * One row of {@code pg_locks}: a session holding or waiting for a key. PostgreSQL shows the
     * application name, client address and start times of other roles' sessions only to a role
     * with {@code pg_read_all_stats}; without it they are {@code null} for those sessions.
     *
     * @param key the PostgreSQL key: a {@code bigint}, or {@code (int,int)} for a pair
     * @param name the key's name, when this instance knows it
     * @param mode {@code exclusive} or {@code shared}
     * @param state {@code held} or {@code waiting}
     * @param backendPid the session's backend, or {@code null} for a prepared transaction
     * @param applicationName the session's {@code application_name}
     * @param clientAddress the session's client address; {@code null} over a Unix socket
     * @param thisInstance whether this instance holds or waits on the backend: one of its lock
     *     sessions, or the connection of one of its transaction-scoped locks
     * @param sessionStart when the backend's session began: a bound on how long a session lock has
     *     been held
     * @param transactionStart when the backend's current transaction began, if it is in one: a
     *     bound on how long a transaction-scoped lock has been held
     * @param heldSince when this instance took the lock, for its own holds
     * @param waitingSince when the wait began (PostgreSQL 14 and later)
     */
    public record ClusterLockDescriptor(String key, @Nullable String name, String mode, String state,
            @Nullable Integer backendPid,
            boolean thisInstance, @Nullable String applicationName, @Nullable String clientAddress,
            @Nullable Instant sessionStart, @Nullable Instant transactionStart, @Nullable Instant heldSince,
            @Nullable Instant waitingSince) {
    }
}
