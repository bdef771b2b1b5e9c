package dev.pals;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Leader election on one advisory lock: among the instances running an election on the same name,
 * the one holding the lock leads, for as long as its PostgreSQL session lives. The others try
 * again every retry interval, without waiting in the server, so a new leader takes over within
 * about one interval of the old one stopping, dying or losing its connection.
 *
 * <pre>{@code
 * LeaderElection election = LeaderElection.builder(registry, "billing-leader")
 *         .listener(new LeadershipListener() { ... })
 *         .start();
 * if (election.isLeader()) { ... }
 * election.close();   // gives up leadership, if held
 * }</pre>
 *
 * <p>Leadership is lost when the lock is: {@link #isLeader()} turns {@code false} and the listener
 * is told within the registry's loss-check interval, plus at most {@link #CHECK_INTERVAL}. A
 * leader that must not overlap its successor should check {@link #isLeader()} before each step,
 * and use transaction-scoped locks for work that writes to the database.
 *
 * <p>Thread-safe. The election runs on a daemon thread of its own, which also calls the listener.
 * Closing the registry ends the election: a leader is told it is revoked.
 */
public final class LeaderElection implements AutoCloseable {

    /** How often a leader checks that it still holds its lock; the check runs in the JVM. */
    public static final Duration CHECK_INTERVAL = Duration.ofMillis(200);

    private static final System.Logger LOG = System.getLogger(LeaderElection.class.getName());

    private final LockRegistry registry;
    private final AdvisoryLock lock;
    private final long retryNanos;
    private final LeadershipListener listener;
    private final ScheduledThreadPoolExecutor thread;
    private volatile @Nullable Thread electionThread;
    /** Guards {@code closed} and {@code rounds} against a close racing the start. */
    private final ReentrantLock state = new ReentrantLock();
    private volatile boolean leader;
    private boolean closed;
    private long nextTry;
    private @Nullable ScheduledFuture<?> rounds;

    private LeaderElection(Builder builder) {
        this.registry = builder.registry;
        this.lock = builder.registry.lock(builder.name, LockOptions.exclusive().withBlocking(false)
                .withGroup(builder.group == null ? "leader:" + builder.name : builder.group));
        this.retryNanos = builder.retryInterval.toNanos();
        this.listener = builder.listener;
        this.thread = new ScheduledThreadPoolExecutor(1, runnable -> {
            Thread daemon = new Thread(runnable, "pals-leader-" + builder.name);
            daemon.setDaemon(true);
            electionThread = daemon;
            return daemon;
        });
    }

    /** An election among the instances using {@code registry}'s namespace on the lock {@code name}. */
    public static Builder builder(LockRegistry registry, String name) {
        return new Builder(Objects.requireNonNull(registry, "registry"), LockKey.requireText(name, "election name"));
    }

    /** The lock the leader holds. */
    public String name() {
        return lock.name();
    }

    /** Whether this instance leads now: it holds the lock, as far as the registry knows. */
    public boolean isLeader() {
        return leader && lock.isHeld();
    }

    /**
     * Stops the election: a leader releases its lock (so another instance takes over within its
     * retry interval) and its listener is told, on the election's thread, before this returns.
     * Idempotent.
     */
    @Override
    public void close() {
        state.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (rounds != null) {
                rounds.cancel(false);
            }
        } finally {
            state.unlock();
        }
        if (thread.isShutdown()) {
            // the registry closed first and the election ended itself, a leader told as it did
            return;
        }
        if (Thread.currentThread() == electionThread) {
            // a listener closing the election: this thread is the one that steps down
            stepDown();
            thread.shutdown();
            return;
        }
        try {
            thread.submit(this::stepDown).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.log(Level.WARNING, "Stepping down from leadership of '" + name() + "' failed", e);
        } finally {
            thread.shutdown();
        }
    }

    private LeaderElection begin() {
        state.lock();
        try {
            rounds = thread.scheduleWithFixedDelay(this::round, 0, CHECK_INTERVAL.toNanos(), TimeUnit.NANOSECONDS);
        } finally {
            state.unlock();
        }
        return this;
    }

    /** One round on the election's thread: a leader checks its lock, a follower tries when its interval is up. */
    private void round() {
        try {
            if (registry.isClosed()) {
                // the registry released everything; nothing to lead with any more
                if (leader) {
                    leader = false;
                    revoked(null);
                }
                thread.shutdown();
                return;
            }
            if (leader) {
                if (!lock.isHeld()) {
                    leader = false;
                    revoked(lostCause());
                    nextTry = System.nanoTime();
                }
                return;
            }
            if (System.nanoTime() - nextTry < 0) {
                return;
            }
            nextTry = System.nanoTime() + retryNanos;
            if (lock.tryAcquire()) {
                leader = true;
                notify(() -> listener.granted(this), "granted");
            }
        } catch (RuntimeException e) {
            // the database is unreachable or failing: try again next interval
            LOG.log(Level.DEBUG, () -> "Leader election '" + name() + "' could not try its lock: " + e.getMessage());
        }
    }

    /** The loss, reported once by the handle's release. */
    private @Nullable LockLostException lostCause() {
        try {
            lock.release();
            return null;
        } catch (LockLostException lost) {
            return lost;
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** Tells revoked before releasing, so that the next leader starts only after this one was told. */
    private void stepDown() {
        if (!leader) {
            return;
        }
        leader = false;
        if (!lock.isHeld()) {
            revoked(lostCause());
            return;
        }
        revoked(null);
        try {
            lock.release();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, () -> "Releasing the leader lock '" + name() + "' failed: " + e.getMessage());
        }
    }

    private void revoked(@Nullable LockLostException lost) {
        notify(() -> listener.revoked(this, lost), "revoked");
    }

    private void notify(Runnable call, String what) {
        try {
            call.run();
        } catch (RuntimeException | LinkageError | AssertionError e) {
            LOG.log(Level.WARNING, "A LeadershipListener failed on " + what + " of '" + name() + "'; ignored", e);
        }
    }

    @Override
    public String toString() {
        return "LeaderElection[" + name() + (isLeader() ? ", leading" : ", following") + "]";
    }

    /** Settings of a {@link LeaderElection}. */
    public static final class Builder {

        private final LockRegistry registry;
        private final String name;
        private Duration retryInterval = Duration.ofSeconds(5);
        private LeadershipListener listener = new LeadershipListener() {
            @Override
            public void granted(LeaderElection election) {
            }

            @Override
            public void revoked(LeaderElection election, @Nullable LockLostException lost) {
            }
        };
        private @Nullable String group;

        private Builder(LockRegistry registry, String name) {
            this.registry = registry;
            this.name = name;
        }

        /**
         * How often a follower tries to take the lock; default 5 s. Each try is one round trip
         * that never waits for the leader.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder retryInterval(Duration retryInterval) {
            Objects.requireNonNull(retryInterval, "retryInterval");
            if (retryInterval.isNegative() || retryInterval.isZero()) {
                throw new IllegalArgumentException("retryInterval must be positive, but was " + retryInterval);
            }
            this.retryInterval = retryInterval;
            return this;
        }

        /** Who is told of granted and revoked leadership; default none. */
        public Builder listener(LeadershipListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** The group the lock reports under in metrics; default {@code leader:<name>}. */
        public Builder group(String group) {
            this.group = LockKey.requireText(group, "group");
            return this;
        }

        /** Starts the election: its first try runs at once, on its own thread. */
        public LeaderElection start() {
            return new LeaderElection(this).begin();
        }
    }
}
