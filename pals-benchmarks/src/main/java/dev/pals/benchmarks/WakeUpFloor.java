package dev.pals.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The registry's shape in scenario 2b with the database taken out: callers hand each call to one of
 * a few answering threads, which answer everything queued at once (as one statement answers a
 * batch) and wake each caller. What is left is a thread's park and wake-up per call, which any
 * design pays whose acquire and release each wait on the caller's thread for their answer; the
 * report sets its CPU per pair beside the registry's and the limit's.
 */
final class WakeUpFloor implements AutoCloseable {

    /** How long a caller parks before it looks again, in case a wake-up came before its park. */
    private static final long PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private static final class Call {
        final Thread caller = Thread.currentThread();
        volatile boolean answered;
    }

    private final List<BlockingQueue<Call>> queues = new ArrayList<>();
    private final List<Thread> answerers = new ArrayList<>();

    WakeUpFloor(int answerers) {
        for (int i = 0; i < answerers; i++) {
            BlockingQueue<Call> queue = new LinkedBlockingQueue<>();
            Thread answerer = new Thread(() -> answer(queue), "s2b-answerer-" + i);
            answerer.setDaemon(true);
            queues.add(queue);
            this.answerers.add(answerer);
            answerer.start();
        }
    }

    private static void answer(BlockingQueue<Call> queue) {
        List<Call> batch = new ArrayList<>();
        try {
            while (true) {
                batch.add(queue.take());
                queue.drainTo(batch);
                for (Call call : batch) {
                    call.answered = true;
                    LockSupport.unpark(call.caller);
                }
                batch.clear();
            }
        } catch (InterruptedException closed) {
            // close() stops the answerers; a call still waiting is left to its caller's interrupt
        }
    }

    /**
     * Hands one call to the answerer {@code caller} maps to and returns once it is answered.
     *
     * @throws InterruptedException if the calling thread is interrupted while it waits
     */
    void call(int caller) throws InterruptedException {
        Call call = new Call();
        queues.get(caller % queues.size()).add(call);
        while (!call.answered) {
            LockSupport.parkNanos(this, PARK_NANOS);
            if (Thread.interrupted()) {
                throw new InterruptedException("Interrupted while waiting for an answer");
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        for (Thread answerer : answerers) {
            answerer.interrupt();
        }
        for (Thread answerer : answerers) {
            answerer.join(TimeUnit.SECONDS.toMillis(10));
        }
    }
}
