package dev.pals.sample;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.springframework.stereotype.Component;

/**
 * How long deposits waited for their account's lock, for the demo's report: the controller
 * starts the clock before the locked call, the locked method stops it on entry.
 */
@Component
public class LockWaits {

    private final ThreadLocal<Long> started = new ThreadLocal<>();
    private final ConcurrentLinkedQueue<Long> waitedNanos = new ConcurrentLinkedQueue<>();

    void start() {
        started.set(System.nanoTime());
    }

    void entered() {
        Long start = started.get();
        if (start != null) {
            waitedNanos.add(System.nanoTime() - start);
            started.remove();
        }
    }

    /** Every wait recorded so far, in nanoseconds. */
    public List<Long> waitsNanos() {
        return new ArrayList<>(waitedNanos);
    }
}
