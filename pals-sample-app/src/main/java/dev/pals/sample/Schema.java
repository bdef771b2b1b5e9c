package dev.pals.sample;

import dev.pals.HeldLock;
import dev.pals.LockRegistry;
import java.time.Duration;
import org.springframework.beans.factory.InitializingBean;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;

/**
 * The migration step: instances that start together take turns under one lock, so that the DDL
 * never runs twice at once (concurrent {@code CREATE TABLE IF NOT EXISTS} can fail in PostgreSQL).
 */
@Component
class Schema implements InitializingBean {

    static final int ACCOUNTS = 5;

    private final LockRegistry locks;
    private final JdbcTemplate jdbc;

    Schema(LockRegistry locks, JdbcTemplate jdbc) {
        this.locks = locks;
        this.jdbc = jdbc;
    }

    @Override
    public void afterPropertiesSet() {
        // a hold rather than executeLocked: the work returns nothing, and its task may not return null
        try (HeldLock held = locks.lock("schema-migration").hold(Duration.ofSeconds(60))) {
            jdbc.execute("CREATE TABLE IF NOT EXISTS account (id bigint PRIMARY KEY, balance bigint NOT NULL)");
            jdbc.execute("CREATE TABLE IF NOT EXISTS ledger (id bigserial PRIMARY KEY, account bigint NOT NULL, "
                    + "amount bigint NOT NULL, instance text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())");
            // no unique key on tick: keeping the job to one run per tick is the lock's work
            jdbc.execute("CREATE TABLE IF NOT EXISTS job_run (tick bigint NOT NULL, instance text NOT NULL, "
                    + "started_at timestamptz NOT NULL, finished_at timestamptz)");
            for (long id = 1; id <= ACCOUNTS; id++) {
                jdbc.update("INSERT INTO account VALUES (?, 0) ON CONFLICT DO NOTHING", id);
            }
        }
    }
}
