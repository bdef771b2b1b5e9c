package dev.pals.spring.autoconfigure;

import dev.pals.TransactionCompletion;
import java.sql.Connection;
import org.springframework.transaction.support.TransactionSynchronization;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * Tells the registry when a transaction-scoped hold ends, through Spring's transaction
 * synchronization of the calling thread; a thread without one is declined, and its hold is then
 * not tracked.
 */
final class SpringTransactionCompletion implements TransactionCompletion {

    @Override
    public boolean afterCompletion(Connection connection, Runnable ended) {
        if (!TransactionSynchronizationManager.isSynchronizationActive()) {
            return false;
        }
        TransactionSynchronizationManager.registerSynchronization(new TransactionSynchronization() {
            @Override
            public void afterCompletion(int status) {
                ended.run();
            }
        });
        return true;
    }
}
