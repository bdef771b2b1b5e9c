package dev.pals.sample.demo;

import dev.pals.sample.LockWaits;
import dev.pals.sample.SampleApplication;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * Runs several instances of the sample service (each its own Spring context, web server and
 * connection pools, so separate PostgreSQL sessions) against one database; clients hammer the
 * same accounts through HTTP while every instance schedules the same job. Prints the report and
 * exits 0 only when the invariants held.
 */
public final class Demo {

    private static final int INSTANCES = 3;
    private static final int CLIENTS = 6;
    private static final int ACCOUNTS = 5;
    private static final Duration RUN_FOR = Duration.ofSeconds(15);

    private Demo() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream progress = System.err;
        progress.println("Starting PostgreSQL and " + INSTANCES + " instances of the sample service...");
        List<ConfigurableApplicationContext> instances = new ArrayList<>();
        boolean held;
        try {
            List<Integer> ports = new ArrayList<>();
            for (int i = 0; i < INSTANCES; i++) {
                ConfigurableApplicationContext instance = start("instance-" + (char) ('a' + i));
                instances.add(instance);
                ports.add(instance.getEnvironment().getRequiredProperty("local.server.port", Integer.class));
            }
            JdbcTemplate jdbc = instances.get(0).getBean(JdbcTemplate.class);
            jdbc.execute("TRUNCATE job_run, ledger");
            jdbc.update("UPDATE account SET balance = 0");

            Map<Long, LongAdder> expected = new ConcurrentHashMap<>();
            AtomicLong deposits = new AtomicLong();
            long deadline = System.nanoTime() + RUN_FOR.toNanos();
            ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
            List<Future<?>> running = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                running.add(clients.submit(() -> hammer(ports, expected, deposits, deadline)));
            }
            showProgress(progress, deadline, deposits);
            for (Future<?> client : running) {
                client.get(60, TimeUnit.SECONDS);
            }
            clients.shutdown();

            DemoReport report = report(instances, expected);
            System.out.println(report.render());
            held = report.invariantsHeld();
        } finally {
            instances.forEach(ConfigurableApplicationContext::close);
        }
        System.exit(held ? 0 : 1);
    }

    private static ConfigurableApplicationContext start(String name) {
        return new SpringApplicationBuilder(SampleApplication.class)
                .run("--server.port=0", "--sample.instance=" + name, "--spring.main.banner-mode=off",
                        "--logging.level.root=WARN");
    }

    /** One client: deposits random amounts into random accounts on random instances until the deadline. */
    private static Void hammer(List<Integer> ports, Map<Long, LongAdder> expected, AtomicLong deposits,
            long deadline) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        ThreadLocalRandom random = ThreadLocalRandom.current();
        while (System.nanoTime() < deadline) {
            int port = ports.get(random.nextInt(ports.size()));
            long account = 1L + random.nextInt(ACCOUNTS);
            long amount = 1L + random.nextInt(9);
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/accounts/"
                    + account + "/deposit?amount=" + amount)).POST(HttpRequest.BodyPublishers.noBody())
                    .timeout(Duration.ofSeconds(30)).build();
            if (http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                expected.computeIfAbsent(account, key -> new LongAdder()).add(amount);
                deposits.incrementAndGet();
            }
        }
        return null;
    }

    private static void showProgress(PrintStream out, long deadline, AtomicLong deposits) throws InterruptedException {
        long total = RUN_FOR.toNanos();
        while (System.nanoTime() < deadline) {
            double done = Math.min(1.0, 1.0 - (double) (deadline - System.nanoTime()) / total);
            int bars = (int) (done * 30);
            out.printf("\r  [%s%s] %4.1f/%d s, %d deposits", "#".repeat(bars), "-".repeat(30 - bars),
                    done * RUN_FOR.toSeconds(), RUN_FOR.toSeconds(), deposits.get());
            out.flush();
            TimeUnit.MILLISECONDS.sleep(250);
        }
        out.printf("\r  [%s] %d s, %d deposits%n", "#".repeat(30), RUN_FOR.toSeconds(), deposits.get());
    }

    private static DemoReport report(List<ConfigurableApplicationContext> instances, Map<Long, LongAdder> expected) {
        JdbcTemplate jdbc = instances.get(0).getBean(JdbcTemplate.class);
        List<DemoReport.JobRun> runs = jdbc.query("SELECT tick, instance FROM job_run ORDER BY tick, started_at",
                (row, index) -> new DemoReport.JobRun(row.getLong(1), row.getString(2)));
        Map<Long, Long> balances = new TreeMap<>();
        jdbc.query("SELECT id, balance FROM account ORDER BY id", row -> {
            balances.put(row.getLong(1), row.getLong(2));
        });
        Map<Long, Long> expectedBalances = new TreeMap<>();
        for (long account = 1; account <= ACCOUNTS; account++) {
            LongAdder sum = expected.get(account);
            expectedBalances.put(account, sum == null ? 0 : sum.sum());
        }
        Map<String, Long> byInstance = new TreeMap<>();
        jdbc.query("SELECT instance, count(*) FROM ledger GROUP BY instance", row -> {
            byInstance.put(row.getString(1), row.getLong(2));
        });
        List<Long> waits = new ArrayList<>();
        instances.forEach(instance -> waits.addAll(instance.getBean(LockWaits.class).waitsNanos()));
        return new DemoReport(runs, expectedBalances, balances, waits, byInstance, instances.size(), RUN_FOR);
    }
}
