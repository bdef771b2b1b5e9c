package dev.pals.sample;

import dev.pals.AcquireFailureException;
import java.util.List;
import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** The REST face of the service. */
@RestController
class AccountController {

    private final Accounts accounts;
    private final LockWaits waits;
    private final JdbcTemplate jdbc;

    AccountController(Accounts accounts, LockWaits waits, JdbcTemplate jdbc) {
        this.accounts = accounts;
        this.waits = waits;
        this.jdbc = jdbc;
    }

    @GetMapping("/accounts/{id}")
    Map<String, Long> balance(@PathVariable long id) {
        return Map.of("id", id, "balance", accounts.balance(id));
    }

    @PostMapping("/accounts/{id}/deposit")
    Map<String, Long> deposit(@PathVariable long id, @RequestParam long amount) {
        waits.start();
        return Map.of("id", id, "balance", accounts.deposit(id, amount));
    }

    @PostMapping("/accounts/{id}/statement")
    String statement(@PathVariable long id) throws InterruptedException {
        return accounts.statement(id);
    }

    @PostMapping("/accounts/{id}/interest")
    Map<String, Long> interest(@PathVariable long id) {
        return Map.of("id", id, "balance", accounts.addInterest(id));
    }

    @GetMapping("/jobs/runs")
    List<Map<String, Object>> jobRuns() {
        return jdbc.queryForList("SELECT tick, instance, started_at, finished_at FROM job_run ORDER BY tick");
    }

    /** Someone else holds the lock: the caller may retry later, as for any conflict. */
    @ExceptionHandler(AcquireFailureException.class)
    ProblemDetail lockTaken(AcquireFailureException e) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.CONFLICT,
                "Lock '" + e.lockName() + "' is held elsewhere (" + e.reason() + "); try again later");
        problem.setTitle("Resource busy");
        return problem;
    }
}
