package dev.pals.stub;

import java.util.concurrent.atomic.AtomicBoolean;

/** One server session: a connection's backend, which ends when its connection closes or breaks. */
final class StubBackend {

    final int pid;
    private final AtomicBoolean terminated = new AtomicBoolean();
    /** A cancel request that reached a running statement, taken by the wait it cancels. */
    private final AtomicBoolean cancel = new AtomicBoolean();

    StubBackend(int pid) {
        this.pid = pid;
    }

    /** Ends the session; {@code true} for the caller that ended it, who frees its locks. */
    boolean terminate() {
        return terminated.compareAndSet(false, true);
    }

    boolean isTerminated() {
        return terminated.get();
    }

    void requestCancel() {
        cancel.set(true);
    }

    boolean takeCancel() {
        return cancel.getAndSet(false);
    }

    void clearCancel() {
        cancel.set(false);
    }
}
