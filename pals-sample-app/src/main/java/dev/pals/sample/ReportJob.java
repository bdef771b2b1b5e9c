package dev.pals.sample;

import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.OnContention;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Every instance schedules the job every second; the lock lets one instance at a time look at the
 * tick and run it if nobody has, and makes the others skip quietly while it does.
 */
@Component
public class ReportJob {

    private static final Log LOG = LogFactory.getLog(ReportJob.class);

    private final JdbcTemplate jdbc;
    private final Instance instance;

    ReportJob(JdbcTemplate jdbc, Instance instance) {
        this.jdbc = jdbc;
        this.instance = instance;
    }

    @Scheduled(cron = "* * * * * *")
    // a run that ends early keeps the lock for half the tick, so an instance whose scheduler fires late skips it
    @AdvisoryLocked(name = "report-job", blocking = false, onContention = OnContention.SKIP, holdAtLeast = "500ms")
    public void run() throws InterruptedException {
        long tick = Instant.now().getEpochSecond();
        // check, then act: only exclusive while the lock is held
        Integer done = jdbc.queryForObject("SELECT count(*) FROM job_run WHERE tick = ?", Integer.class, tick);
        if (done != null && done > 0) {
            return;
        }
        jdbc.update("INSERT INTO job_run (tick, instance, started_at) VALUES (?, ?, clock_timestamp())", tick,
                instance.name());
        TimeUnit.MILLISECONDS.sleep(100); // the report's work
        jdbc.update("UPDATE job_run SET finished_at = clock_timestamp() WHERE tick = ? AND instance = ?", tick,
                instance.name());
        LOG.info("report job ran for tick " + tick + " on instance " + instance.name());
    }
}
