package dev.pals;

import java.lang.System.Logger.Level;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;

/**
 * Telling of lost locks: when a session dies, every hold on it is taken away under its key's
 * mutex, then its section is ended and the {@link LockLossListener}s are told, with no lock held
 * and on a worker thread, since the thread that found the loss may hold a session or be in the
 * middle of a release.
 */
final class LossReports {

    private static final System.Logger LOG = System.getLogger(LossReports.class.getName());

    private final Engine engine;
    private final KeyTable keys;
    private final Executor workers;
    private final List<LockLossListener> listeners;

    LossReports(Engine engine, KeyTable keys, Executor workers, List<LockLossListener> listeners) {
        this.engine = engine;
        this.keys = keys;
        this.workers = workers;
        this.listeners = List.copyOf(listeners);
    }

    /** A holder whose lock a dead session took with it, and its section to end. */
    private record Loss(Holder holder, LockLostException cause, @Nullable OpenSection section) {
    }

    /** Marks every lock held on {@code session}, which died, lost, and tells of each. */
    void sessionLost(Session session, SQLException cause) {
        // the pairs as found: the owner may release or re-acquire before the listeners run
        List<Loss> lost = new ArrayList<>();
        for (KeyState state : List.copyOf(session.held)) {
            state.mutex.lock();
            try {
                if (!state.isHeldOn(session)) {
                    continue;
                }
                for (Holder holder : state.holders()) {
                    OpenSection section = engine.letGo(holder);
                    holder.lost = new LockLostException(holder.name, "Lock '" + holder.name + "' was lost: the "
                            + "PostgreSQL session holding it (backend " + session.backendPid + ") ended ("
                            + cause.getMessage() + "), so PostgreSQL freed it and another holder may have taken it",
                            cause);
                    lost.add(new Loss(holder, holder.lost, section));
                }
                keys.free(state);
            } finally {
                state.mutex.unlock();
            }
        }
        session.held.clear();
        if (lost.isEmpty()) {
            return;
        }
        try {
            workers.execute(() -> report(lost));
        } catch (RejectedExecutionException closed) {
            report(lost);
        }
    }

    private void report(List<Loss> lost) {
        for (Loss loss : lost) {
            OpenSection.endIfAny(loss.section(), loss.cause());
            tell(loss.holder(), loss.cause());
        }
    }

    /** Logs a loss and tells the listeners, whether the housekeeper or a release found it. */
    void tell(Holder holder, LockLostException loss) {
        if (holder.reportedAs == null) {
            // a semaphore's count or queue lock: its permit's loss is the one that matters, told on its own
            LOG.log(Level.DEBUG, loss::getMessage);
            return;
        }
        LOG.log(Level.WARNING, loss::getMessage);
        AdvisoryLock handle = holder.handle.get();
        if (handle == null) {
            return;
        }
        for (LockLossListener listener : listeners) {
            try {
                listener.lockLost(handle, loss);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "A LockLossListener failed; ignored", e);
            }
        }
    }
}
