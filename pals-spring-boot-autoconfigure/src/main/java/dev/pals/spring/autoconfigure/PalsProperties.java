package dev.pals.spring.autoconfigure;

import dev.pals.FencingTokens;
import dev.pals.LockRegistry;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.core.Ordered;

/**
 * Settings of PALs, under {@code pals}. An unknown {@code pals.*} property fails start-up, so
 * that a misspelt setting is not silently ignored.
 */
@ConfigurationProperties(prefix = "pals", ignoreUnknownFields = false)
public class PalsProperties {

    /**
     * Whether to enable PALs: the lock pool, the LockRegistry bean and @AdvisoryLocked.
     */
    private boolean enabled = true;

    /**
     * Namespace lock names are qualified with (PALs' app name): services that share it exclude
     * each other on the same names. Defaults to spring.application.name.
     */
    private @Nullable String namespace;

    /**
     * Whether LockRegistry handles wait by default in acquire() and hold().
     */
    private boolean blocking = true;

    /**
     * How long an acquisition waits by default, for handles and for blocking @AdvisoryLocked
     * methods without a timeout. 0 means do not wait.
     */
    private Duration acquireTimeout = Duration.ofSeconds(30);

    /**
     * How often each lock connection that holds locks is checked for loss, with one SELECT 1.
     */
    private Duration lossCheckInterval = Duration.ofSeconds(1);

    /**
     * The longest a statement on a lock connection (try, release, loss check) may go unanswered;
     * then the connection is aborted and its locks are reported lost. With the loss-check
     * interval it bounds how long a holder can go on believing it holds once the network is silent.
     */
    private Duration networkTimeout = Duration.ofSeconds(2);

    /**
     * How long PostgreSQL keeps the session, and so the locks, of a client it no longer hears from
     * (a dead host, a network split), set on each lock connection's session through its TCP
     * keepalive settings. Must exceed the loss-check interval plus the network timeout by as much
     * again, at least 1s; start-up fails otherwise.
     */
    private Duration silentClientTimeout = Duration.ofSeconds(20);

    /**
     * How long a lock connection that holds nothing stays out of the lock pool before it is
     * returned.
     */
    private Duration idleTimeout = Duration.ofSeconds(10);

    /**
     * Whether a lost lock interrupts the thread running its @AdvisoryLocked method, so that it
     * stops early. Either way the caller gets a LockLostException when the method returns, with
     * the method's own failure attached.
     */
    private boolean interruptOnLoss;

    /**
     * Whether to keep locks in this JVM instead of PostgreSQL, for tests of one instance without
     * a database. Instances then do not exclude each other, and TRANSACTION scope is refused:
     * never set it in production.
     */
    private boolean inMemory;

    /**
     * Order of the advisor that takes SESSION locks of @AdvisoryLocked methods. The default,
     * Ordered.LOWEST_PRECEDENCE - 1, runs just outside @EnableTransactionManagement's default
     * order, so a lock wraps the transaction of the same method; a service that orders its
     * transactions otherwise, say @EnableTransactionManagement(order = 0), sets it below that
     * (-1). TRANSACTION locks are always taken innermost, inside the transaction.
     */
    private int advisorOrder = Ordered.LOWEST_PRECEDENCE - 1;

    /**
     * Whether holders may ask for fencing tokens (AdvisoryLock.fencingToken()), and who creates
     * their sequence pals_fencing_tokens: "create" lets the registry create it at the first token,
     * "require" expects a migration to have created it. Unset: no tokens.
     */
    private @Nullable FencingTokens fencingTokens;

    /**
     * How the lock observations are made. "auto": their meters are recorded straight into cached
     * timers when nothing but meters would see them (no tracer, no ObservationHandler bean but
     * meter handlers, no GlobalObservationConvention, ObservationFilter or ObservationPredicate
     * bean of one's own, no common key values), Micrometer Observations otherwise.
     * "observations": always Observations, e.g. for handlers registered through an
     * ObservationRegistryCustomizer.
     */
    private Observations observations = Observations.AUTO;

    private final Datasource datasource = new Datasource();

    private final Leader leader = new Leader();

    private final LockTable serverLockTable = new LockTable();

    public boolean isEnabled() {
        return enabled;
    }

    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    public @Nullable String getNamespace() {
        return namespace;
    }

    public void setNamespace(@Nullable String namespace) {
        this.namespace = namespace;
    }

    public @Nullable FencingTokens getFencingTokens() {
        return fencingTokens;
    }

    public void setFencingTokens(@Nullable FencingTokens fencingTokens) {
        this.fencingTokens = fencingTokens;
    }

    public Observations getObservations() {
        return observations;
    }

    public void setObservations(Observations observations) {
        this.observations = observations;
    }

    public boolean isBlocking() {
        return blocking;
    }

    public void setBlocking(boolean blocking) {
        this.blocking = blocking;
    }

    public Duration getAcquireTimeout() {
        return acquireTimeout;
    }

    public void setAcquireTimeout(Duration acquireTimeout) {
        if (acquireTimeout.isNegative()) {
            throw new InvalidConfigurationPropertyValueException("pals.acquire-timeout", acquireTimeout,
                    "It must not be negative; use 0s not to wait");
        }
        if (acquireTimeout.compareTo(LockRegistry.LONGEST_WAIT) > 0) {
            throw new InvalidConfigurationPropertyValueException("pals.acquire-timeout", acquireTimeout,
                    "It is longer than PostgreSQL's lock_timeout can wait (about 24 days); use a shorter duration, "
                    + "or timeout = \"forever\" on the methods that must wait without limit");
        }
        this.acquireTimeout = acquireTimeout;
    }

    public int getAdvisorOrder() {
        return advisorOrder;
    }

    public void setAdvisorOrder(int advisorOrder) {
        this.advisorOrder = advisorOrder;
    }

    public Duration getLossCheckInterval() {
        return lossCheckInterval;
    }

    public void setLossCheckInterval(Duration lossCheckInterval) {
        if (lossCheckInterval.isNegative() || lossCheckInterval.isZero()) {
            throw new IllegalArgumentException("must be positive, for example 1s");
        }
        this.lossCheckInterval = lossCheckInterval;
    }

    public Duration getNetworkTimeout() {
        return networkTimeout;
    }

    public void setNetworkTimeout(Duration networkTimeout) {
        if (networkTimeout.isNegative() || networkTimeout.isZero()
                || networkTimeout.compareTo(LockRegistry.LONGEST_WAIT) > 0) {
            throw new IllegalArgumentException("must be positive and at most " + LockRegistry.LONGEST_WAIT
                    + ", for example 2s");
        }
        this.networkTimeout = networkTimeout;
    }

    public Duration getSilentClientTimeout() {
        return silentClientTimeout;
    }

    public void setSilentClientTimeout(Duration silentClientTimeout) {
        if (silentClientTimeout.compareTo(Duration.ofSeconds(2)) < 0
                || silentClientTimeout.compareTo(Duration.ofHours(18)) > 0) {
            throw new IllegalArgumentException("must be at least 2s and at most 18h (the longest keepalive Linux "
                    + "takes), for example 20s");
        }
        this.silentClientTimeout = silentClientTimeout;
    }

    public Duration getIdleTimeout() {
        return idleTimeout;
    }

    public void setIdleTimeout(Duration idleTimeout) {
        this.idleTimeout = requireNotNegative(idleTimeout);
    }

    public boolean isInMemory() {
        return inMemory;
    }

    public void setInMemory(boolean inMemory) {
        this.inMemory = inMemory;
    }

    public boolean isInterruptOnLoss() {
        return interruptOnLoss;
    }

    public void setInterruptOnLoss(boolean interruptOnLoss) {
        this.interruptOnLoss = interruptOnLoss;
    }

    public Leader getLeader() {
        return leader;
    }

    public Datasource getDatasource() {
        return datasource;
    }

    public LockTable getServerLockTable() {
        return serverLockTable;
    }

    private static Duration requireNotNegative(Duration duration) {
        if (duration.isNegative()) {
            throw new IllegalArgumentException("must not be negative, but was " + duration);
        }
        return duration;
    }

    /**
     * The PostgreSQL server's shared lock table, which advisory locks share with every other lock
     * on the server, as the health details and the pals.server.locks.* gauges show it.
     */
    public static class LockTable {

        private static final String WARNING_THRESHOLD = "pals.server-lock-table.warning-threshold";

        /**
         * Share of the lock table's capacity at and above which a WARN is logged (once per crossing)
         * and the health details carry a warning, as a percentage ("80%") or a ratio ("0.8"); above
         * 0 and at most 100%.
         */
        private String warningThreshold = "80%";

        /**
         * How long a reading of pg_locks is reused by the health check and the gauges: reading it
         * costs the server more the fuller its lock table is.
         */
        private Duration readInterval = Duration.ofSeconds(30);

        private double warningRatio = 0.8;

        public String getWarningThreshold() {
            return warningThreshold;
        }

        public void setWarningThreshold(String warningThreshold) {
            this.warningRatio = ratio(warningThreshold);
            this.warningThreshold = warningThreshold;
        }

        /** {@link #getWarningThreshold()} as a ratio. */
        double warningRatio() {
            return warningRatio;
        }

        public Duration getReadInterval() {
            return readInterval;
        }

        public void setReadInterval(Duration readInterval) {
            if (readInterval.isNegative() || readInterval.isZero()) {
                throw new IllegalArgumentException("must be positive, for example 30s, but was " + readInterval);
            }
            this.readInterval = readInterval;
        }

        private static double ratio(String threshold) {
            String text = threshold.strip();
            boolean percent = text.endsWith("%");
            double value;
            try {
                value = Double.parseDouble(percent ? text.substring(0, text.length() - 1).strip() : text);
            } catch (NumberFormatException e) {
                throw new InvalidConfigurationPropertyValueException(WARNING_THRESHOLD, threshold,
                        "It must be a ratio such as 0.8, or a percentage such as 80%");
            }
            double ratio = percent ? value / 100 : value;
            if (!(ratio > 0 && ratio <= 1)) {
                throw new InvalidConfigurationPropertyValueException(WARNING_THRESHOLD, threshold,
                        "It must be above 0 and at most 1, or as a percentage at most 100%");
            }
            return ratio;
        }
    }

    /** Leader election: one instance of the service leads while it holds one lock. */
    /** How the lock observations are made ({@code pals.observations}). */
    public enum Observations {
        /** Their meters alone when nothing but meters would see them, Observations otherwise. */
        AUTO,
        /** Always Micrometer Observations. */
        OBSERVATIONS
    }

    public static class Leader {

        /**
         * Name of the lock the leader holds, in the namespace; setting it starts a leader election
         * with the application and publishes LeadershipGrantedEvent and LeadershipRevokedEvent.
         */
        private @Nullable String name;

        /**
         * How often an instance that does not lead tries to take the leader lock.
         */
        private Duration retryInterval = Duration.ofSeconds(5);

        public @Nullable String getName() {
            return name;
        }

        public void setName(@Nullable String name) {
            this.name = name;
        }

        public Duration getRetryInterval() {
            return retryInterval;
        }

        public void setRetryInterval(Duration retryInterval) {
            if (retryInterval.isNegative() || retryInterval.isZero()) {
                throw new IllegalArgumentException("must be positive, but was " + retryInterval);
            }
            this.retryInterval = retryInterval;
        }
    }

    /**
     * The lock pool: a small HikariCP pool of its own, kept apart from the service's DataSource
     * because its connections stay out for as long as locks are held.
     */
    public static class Datasource {

        /**
         * JDBC URL of the PostgreSQL database to take locks on. Defaults to the service's own
         * database (spring.datasource.url or its connection details).
         */
        private @Nullable String url;

        /**
         * Login user of the lock database. Defaults to the service's (spring.datasource.username).
         */
        private @Nullable String username;

        /**
         * Login password of the lock database. Defaults to the service's (spring.datasource.password).
         */
        private @Nullable String password;

        /**
         * Most connections the lock registry holds at once. All held locks share them; each
         * concurrent wait in the server needs one of its own, and one is always kept for tries
         * and releases. The lock pool allows one more, for the health check and the advisorylocks
         * endpoint, so that they never wait behind held locks.
         */
        private int maximumPoolSize = 4;

        /**
         * Name of the lock pool's connections in pg_stat_activity. Defaults to
         * "<spring.application.name>-locks" with this instance's host and process id.
         */
        private @Nullable String applicationName;

        /**
         * Any other HikariCP setting of the lock pool, such as connection-timeout or
         * max-lifetime, as HikariConfig names it.
         */
        private final Map<String, String> hikari = new LinkedHashMap<>();

        public @Nullable String getUrl() {
            return url;
        }

        public void setUrl(@Nullable String url) {
            this.url = url;
        }

        public @Nullable String getUsername() {
            return username;
        }

        public void setUsername(@Nullable String username) {
            this.username = username;
        }

        public @Nullable String getPassword() {
            return password;
        }

        public void setPassword(@Nullable String password) {
            this.password = password;
        }

        public int getMaximumPoolSize() {
            return maximumPoolSize;
        }

        public void setMaximumPoolSize(int maximumPoolSize) {
            if (maximumPoolSize < 1) {
                throw new IllegalArgumentException("must be at least 1 (2 or more lets a waiter wait in the server), "
                        + "but was " + maximumPoolSize);
            }
            this.maximumPoolSize = maximumPoolSize;
        }

        public @Nullable String getApplicationName() {
            return applicationName;
        }

        public void setApplicationName(@Nullable String applicationName) {
            this.applicationName = applicationName;
        }

        public Map<String, String> getHikari() {
            return hikari;
        }
    }
}
