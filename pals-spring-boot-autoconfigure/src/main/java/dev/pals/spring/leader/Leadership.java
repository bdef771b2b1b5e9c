package dev.pals.spring.leader;

import dev.pals.LeaderElection;
import dev.pals.LeadershipListener;
import dev.pals.LockLostException;
import dev.pals.LockRegistry;
import java.time.Duration;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.SmartLifecycle;

/**
 * This instance's part in the service's leader election, started with the application context
 * and stopped before it closes: among the instances, the one holding the leader lock leads while
 * its session lives. Ask {@link #isLeader()} before a step only the leader may take, or listen for
 * {@link LeadershipGrantedEvent} and {@link LeadershipRevokedEvent}.
 */
public final class Leadership implements SmartLifecycle {

    private final LockRegistry registry;
    private final String name;
    private final Duration retryInterval;
    private final ApplicationEventPublisher events;
    private final ReentrantLock lifecycle = new ReentrantLock();
    private volatile @Nullable LeaderElection election;

    /**
     * An election on the lock {@code name} of {@code registry}.
     *
     * @param retryInterval how often a follower tries to take the lock
     * @param events where granted and revoked are published
     */
    public Leadership(LockRegistry registry, String name, Duration retryInterval, ApplicationEventPublisher events) {
        this.registry = registry;
        this.name = name;
        this.retryInterval = retryInterval;
        this.events = events;
    }

    /** The leader lock's name. */
    public String getName() {
        return name;
    }

    /** Whether this instance leads now; false before the context starts and after it stops. */
    public boolean isLeader() {
        LeaderElection current = election;
        return current != null && current.isLeader();
    }

    @Override
    public void start() {
        lifecycle.lock();
        try {
            if (election == null) {
                election = LeaderElection.builder(registry, name).retryInterval(retryInterval)
                        .listener(new Publisher()).start();
            }
        } finally {
            lifecycle.unlock();
        }
    }

    /** Gives leadership up, so that another instance takes over within its retry interval. */
    @Override
    public void stop() {
        lifecycle.lock();
        try {
            LeaderElection current = election;
            election = null;
            if (current != null) {
                current.close();
            }
        } finally {
            lifecycle.unlock();
        }
    }

    @Override
    public boolean isRunning() {
        return election != null;
    }

    @Override
    public String toString() {
        return "Leadership[" + name + (isLeader() ? ", leading" : ", following") + "]";
    }

    /** Turns the election's calls into application events. */
    private final class Publisher implements LeadershipListener {

        @Override
        public void granted(LeaderElection election) {
            events.publishEvent(new LeadershipGrantedEvent(Leadership.this));
        }

        @Override
        public void revoked(LeaderElection election, @Nullable LockLostException lost) {
            events.publishEvent(new LeadershipRevokedEvent(Leadership.this, lost));
        }
    }
}
