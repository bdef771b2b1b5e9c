package dev.pals.sample;

import dev.pals.AdvisoryLock;
import dev.pals.HeldLock;
import dev.pals.LockOptions;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.LockScope;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** Account balances, changed by read-then-write under a per-account lock. */
@Service
public class Accounts {

    private final JdbcTemplate jdbc;
    private final LockRegistry locks;
    private final Instance instance;
    private final LockWaits waits;

    Accounts(JdbcTemplate jdbc, LockRegistry locks, Instance instance, LockWaits waits) {
        this.jdbc = jdbc;
        this.locks = locks;
        this.instance = instance;
        this.waits = waits;
    }

    public long balance(long id) {
        return Objects.requireNonNull(jdbc.queryForObject("SELECT balance FROM account WHERE id = ?", Long.class, id),
                "balance is NOT NULL");
    }

    /**
     * Reads, then writes in a separate statement, with no row lock: without the advisory lock,
     * concurrent deposits on one account would lose updates. The lock lives in the transaction,
     * so it is released exactly when the new balance is committed.
     */
    @Transactional
    @AdvisoryLocked(name = "'account:' + #id", group = "account", scope = LockScope.TRANSACTION, timeout = "10s")
    public long deposit(long id, long amount) {
        waits.entered();
        long balance = balance(id) + amount;
        jdbc.update("UPDATE account SET balance = ? WHERE id = ?", balance, id);
        jdbc.update("INSERT INTO ledger (account, amount, instance) VALUES (?, ?, ?)", id, amount, instance.name());
        return balance;
    }

    /**
     * Produces a statement, which takes a while; a second request for the same account, on any
     * instance, is refused at once rather than queued.
     */
    @AdvisoryLocked(name = "'statement:' + #id", group = "statement", blocking = false)
    public String statement(long id) throws InterruptedException {
        TimeUnit.MILLISECONDS.sleep(300);
        return "Statement of account " + id + ": balance " + balance(id) + ", produced by instance " + instance.name();
    }

    /**
     * Adds 1% interest, with the lock taken by hand from the injected registry. It is the same
     * name as deposits use, and session and transaction locks on one key exclude each other, so
     * no deposit interleaves.
     */
    public long addInterest(long id) {
        AdvisoryLock lock = locks.lock("account:" + id, LockOptions.exclusive().withGroup("account"));
        try (HeldLock held = lock.hold(Duration.ofSeconds(5))) {
            long balance = balance(id);
            long interest = balance / 100;
            jdbc.update("UPDATE account SET balance = ? WHERE id = ?", balance + interest, id);
            jdbc.update("INSERT INTO ledger (account, amount, instance) VALUES (?, ?, ?)", id, interest,
                    instance.name());
            return balance + interest;
        }
    }
}
