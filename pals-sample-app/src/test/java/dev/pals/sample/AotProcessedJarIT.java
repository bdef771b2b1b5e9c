package dev.pals.sample;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The packaged sample run as a JVM deployment runs a service that Spring AOT processed at build
 * time: {@code java -Dspring.aot.enabled=true -jar pals-sample-app.jar}, with nothing configured,
 * so on its embedded PostgreSQL. Its bean definitions, the conditions fixed in them and its proxy
 * classes are the ones generated in the build, not found at start-up. (On the JVM the recorded
 * native-image hints are not used; {@code AotProcessingTest} checks those.)
 */
class AotProcessedJarIT {

    private static final Pattern STARTED_ON_PORT = Pattern.compile("Tomcat started on port (\\d+)");
    private static final Pattern STACK_TRACE_HEAD = Pattern.compile("^[\\w.$]+(Exception|Error)(: .*)?$");
    private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(10);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(HTTP_TIMEOUT).build();
    private static final JsonMapper JSON = JsonMapper.builder().build();

    @Test
    void theAotProcessedServiceLocksLeadsRunsItsJobAndStopsCleanly(@TempDir Path directory) throws Exception {
        Path log = directory.resolve("service.log");
        ProcessBuilder command = new ProcessBuilder(java(), "-Dspring.aot.enabled=true", "-jar", jar().toString(),
                "--server.port=0", "--server.address=127.0.0.1", "--spring.main.banner-mode=off")
                .directory(directory.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        // nothing configured, whatever this machine's environment names
        command.environment().keySet().removeIf(name -> name.startsWith("SPRING_") || name.startsWith("PALS_"));
        Process service = command.start();
        boolean stopped;
        try {
            int port = await().atMost(Duration.ofSeconds(120)).until(() -> startedPort(service, log), p -> p != null);
            assertThat(Files.readString(log)).contains("Starting AOT-processed SampleApplication");

            JsonNode deposit = json(send(port, "POST", "/accounts/1/deposit?amount=5"));
            assertThat(deposit.get("balance").asLong()).isEqualTo(5);
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> json(send(port, "GET", "/leader")).get("leader").asBoolean());
            await().atMost(Duration.ofSeconds(30)).until(() -> json(send(port, "GET", "/jobs/runs")).size() > 0);
            JsonNode health = json(send(port, "GET", "/actuator/health"));
            assertThat(health.at("/components/advisoryLocks/status").asString()).isEqualTo("UP");
            assertThat(health.at("/components/advisoryLocks/details/sessionAffinity").asString()).isEqualTo("kept");
            JsonNode held = json(send(port, "GET", "/actuator/advisorylocks")).at("/instance/held");
            assertThat(held.findValuesAsString("name")).contains("sample-leader");
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\nThe service's log:\n" + Files.readString(log), e);
        } finally {
            stopped = stop(service);
        }
        assertThat(stopped).as("the service stops within a minute of SIGTERM").isTrue();
        assertThat(Files.readAllLines(log)).as("errors logged by the AOT-processed service")
                .noneMatch(line -> line.contains(" ERROR ") || STACK_TRACE_HEAD.matcher(line).matches());
    }

    /**
     * SIGTERM, as a deployment stops it; killed if it has not stopped within a minute, so that no
     * process outlives the test.
     *
     * @return whether it stopped on SIGTERM
     */
    private static boolean stop(Process service) throws InterruptedException {
        service.destroy();
        if (service.waitFor(60, TimeUnit.SECONDS)) {
            return true;
        }
        service.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        return false;
    }

    /** The port once the service has started, or null before; fails at once if the service has died. */
    private static @Nullable Integer startedPort(Process service, Path log) throws IOException {
        String output = Files.readString(log);
        if (!service.isAlive()) {
            throw new AssertionError("the service exited with " + service.exitValue() + ":\n" + output);
        }
        Matcher started = STARTED_ON_PORT.matcher(output);
        return started.find() ? Integer.valueOf(started.group(1)) : null;
    }

    /** The jar the build just packaged, AOT-processed sources and all. */
    private static Path jar() {
        Path jar = Path.of("target", "pals-sample-app.jar").toAbsolutePath();
        assertThat(jar).as("run after package, as ./mvnw verify does").exists();
        return jar;
    }

    /** The java this test runs on, so that the service runs on the same JDK. */
    private static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    private static HttpResponse<String> send(int port, String method, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(HTTP_TIMEOUT)
                .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> response) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }
}
