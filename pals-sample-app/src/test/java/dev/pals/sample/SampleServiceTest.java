package dev.pals.sample;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.HeldLock;
import dev.pals.LockKey;
import dev.pals.LockRegistry;
import dev.pals.testing.TestDatabase;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Two instances of the sample service on an external database, as in production. */
class SampleServiceTest {

    private static final TestDatabase DB = TestDatabase.get();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static ConfigurableApplicationContext one;
    private static ConfigurableApplicationContext two;

    @BeforeAll
    static void startTwoInstances() {
        String database = DB.createDatabase();
        one = start("one", database);
        two = start("two", database);
    }

    @AfterAll
    static void stopInstances() {
        two.close();
        one.close();
    }

    @Test
    void scheduledJobRunsExactlyOncePerTickAcrossInstances() {
        JdbcTemplate jdbc = one.getBean(JdbcTemplate.class);
        await().atMost(Duration.ofSeconds(30)).until(() ->
                jdbc.queryForObject("SELECT count(DISTINCT tick) FROM job_run", Integer.class) >= 4);

        assertThat(jdbc.queryForList("SELECT tick FROM job_run GROUP BY tick HAVING count(*) > 1", Long.class))
                .as("ticks in which the job ran twice").isEmpty();
    }

    @Test
    void concurrentDepositsOnOneAccountThroughBothInstancesLoseNothing() throws Exception {
        long before = balance(2);
        ExecutorService clients = Executors.newFixedThreadPool(6);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int c = 0; c < 6; c++) {
                ConfigurableApplicationContext instance = c % 2 == 0 ? one : two;
                results.add(clients.submit(() -> {
                    int ok = 0;
                    for (int i = 0; i < 30; i++) {
                        ok += post(instance, "/accounts/2/deposit?amount=1").statusCode() == 200 ? 1 : 0;
                    }
                    return ok;
                }));
            }
            int acknowledged = 0;
            for (Future<Integer> result : results) {
                acknowledged += result.get(120, TimeUnit.SECONDS);
            }
            assertThat(acknowledged).isEqualTo(180);
            assertThat(balance(2)).isEqualTo(before + acknowledged);
        } finally {
            clients.shutdownNow();
        }
    }

    @Test
    void statementRequestedWhileAnotherInstanceProducesItAnswers409() throws Exception {
        CompletableFuture<HttpResponse<String>> first = CompletableFuture.supplyAsync(
                () -> post(one, "/accounts/3/statement"));
        await().atMost(Duration.ofSeconds(30)).until(() -> held(LockKey.of("pals-sample", "statement:3")));

        HttpResponse<String> second = post(two, "/accounts/3/statement");

        assertThat(second.statusCode()).isEqualTo(409);
        assertThat(second.body()).contains("statement:3").contains("try again later");
        assertThat(first.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    }

    @Test
    void interestTakenWithAManualLockIsAddedToTheBalance() {
        post(one, "/accounts/4/deposit?amount=1000");
        long before = balance(4);

        assertThat(post(two, "/accounts/4/interest").statusCode()).isEqualTo(200);

        assertThat(balance(4)).isEqualTo(before + before / 100);
    }

    @Test
    void theLockEndpointOfAnotherInstanceShowsWhoHoldsALock() {
        LockRegistry registry = one.getBean(LockRegistry.class);
        try (HeldLock held = registry.lock("maintenance").hold()) {
            JsonNode mine = json(get(one, "/actuator/advisorylocks"));
            JsonNode hold = null;
            for (JsonNode each : mine.at("/instance/held")) {
                if (each.get("name").asString().equals("maintenance")) {
                    hold = each;
                }
            }
            assertThat(hold).as("this instance's hold on 'maintenance' in " + mine).isNotNull();
            int pid = hold.get("backendPid").asInt();

            JsonNode theirs = json(get(two, "/actuator/advisorylocks"));
            String key = LockKey.of("pals-sample", "maintenance").toString();
            assertThat(theirs.at("/cluster/locks")).filteredOn(row -> row.get("key").asString().equals(key))
                    .singleElement().satisfies(row -> {
                        assertThat(row.get("state").asString()).isEqualTo("held");
                        assertThat(row.get("backendPid").asInt()).isEqualTo(pid);
                        assertThat(row.get("thisInstance").asBoolean()).isFalse();
                    });
        }
    }

    @Test
    void exactlyOneInstanceLeads() {
        await().atMost(Duration.ofSeconds(30)).until(() -> leads(one) || leads(two));
        assertThat(leads(one)).isNotEqualTo(leads(two));
    }

    private static boolean leads(ConfigurableApplicationContext instance) {
        return json(get(instance, "/leader")).get("leader").asBoolean();
    }

    @Test
    void healthShowsTheLockDatabaseUp() {
        JsonNode health = json(get(one, "/actuator/health"));
        assertThat(health.at("/components/advisoryLocks/status").asString()).isEqualTo("UP");
        assertThat(health.at("/components/advisoryLocks/details/sessionAffinity").asString()).isEqualTo("kept");
    }

    @Test
    void metricsCountTheScheduledJobsAcquisitions() {
        await().atMost(Duration.ofSeconds(30)).until(() -> get(one,
                "/actuator/metrics/pals.lock.acquire?tag=pals.lock.group:report-job").statusCode() == 200);
        JsonNode acquisitions = json(get(one, "/actuator/metrics/pals.lock.acquire?tag=pals.lock.group:report-job"));
        assertThat(acquisitions.at("/measurements/0/statistic").asString()).isEqualTo("COUNT");
        assertThat(acquisitions.at("/measurements/0/value").asDouble()).isPositive();
    }

    private static ConfigurableApplicationContext start(String name, String database) {
        return new SpringApplicationBuilder(SampleApplication.class).run("--server.port=0",
                "--spring.datasource.url=" + database, "--spring.datasource.username=" + DB.user(),
                "--spring.datasource.password=" + DB.password(), "--sample.instance=" + name,
                "--spring.main.banner-mode=off");
    }

    private static long balance(long account) {
        return one.getBean(Accounts.class).balance(account);
    }

    private static HttpResponse<String> post(ConfigurableApplicationContext instance, String path) {
        int port = instance.getEnvironment().getRequiredProperty("local.server.port", Integer.class);
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static HttpResponse<String> get(ConfigurableApplicationContext instance, String path) {
        int port = instance.getEnvironment().getRequiredProperty("local.server.port", Integer.class);
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode json(HttpResponse<String> response) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    private static boolean held(LockKey key) throws Exception {
        return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true) > 0;
    }
}
