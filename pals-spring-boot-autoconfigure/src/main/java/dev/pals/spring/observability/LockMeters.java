package dev.pals.spring.observability;

import dev.pals.AdvisoryLock;
import dev.pals.LockRegistry;
import dev.pals.spring.LockLostEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Locale;
import org.jspecify.annotations.Nullable;
import org.springframework.context.ApplicationListener;

/**
 * The registry's meters:
 *
 * <ul>
 * <li>{@value #HELD} (gauge): holds now, a re-entrant handle counted once;</li>
 * <li>{@value #WAITING} (gauge): acquisitions that may wait and are not answered yet;</li>
 * <li>{@value #CONNECTIONS} (gauge): lock-pool connections the registry has out, holding locks,
 * waiting or idle;</li>
 * <li>{@value #LOST} (counter): locks lost because their session ended, tagged with the lock's
 * group and mode.</li>
 * </ul>
 */
public final class LockMeters implements MeterBinder, ApplicationListener<LockLostEvent> {

    /** Holds now. */
    public static final String HELD = "pals.registry.held";
    /** Acquisitions waiting now. */
    public static final String WAITING = "pals.registry.waiting";
    /** Lock-pool connections out now. */
    public static final String CONNECTIONS = "pals.registry.connections";
    /** Locks lost. */
    public static final String LOST = "pals.lock.lost";

    private final LockRegistry registry;
    private volatile @Nullable MeterRegistry meters;

    /** Meters of {@code registry}. */
    public LockMeters(LockRegistry registry) {
        this.registry = registry;
    }

    @Override
    public void bindTo(MeterRegistry meters) {
        Gauge.builder(HELD, registry, LockRegistry::heldLocks).description("Locks held by this instance now")
                .register(meters);
        Gauge.builder(WAITING, registry, LockRegistry::waitingLocks)
                .description("Acquisitions that may wait and are not answered yet").register(meters);
        Gauge.builder(CONNECTIONS, registry, LockRegistry::openConnections)
                .description("Lock-pool connections out: holding locks, waiting or idle").register(meters);
        this.meters = meters;
    }

    @Override
    public void onApplicationEvent(LockLostEvent event) {
        MeterRegistry bound = meters;
        if (bound == null) {
            return;
        }
        AdvisoryLock lock = event.getLock();
        Counter.builder(LOST).description("Locks lost because the PostgreSQL session holding them ended")
                .tag(LockObservations.GROUP, lock.group())
                .tag(LockObservations.MODE, lock.mode().name().toLowerCase(Locale.ROOT))
                .register(bound).increment();
    }
}
