package dev.pals.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pals.benchmarks.Contender.Held;
import dev.pals.benchmarks.Contender.Kind;
import dev.pals.testing.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The comparison is only as fair as its contenders: each must really lock, on the real server,
 * so that a library upgrade that breaks one is caught by the build rather than by a table of
 * impossible figures.
 */
class ContenderTest {

    private static BenchmarkDatabase database;

    @BeforeAll
    static void startServer() {
        database = BenchmarkDatabase.start();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void eachContenderRunsTheBodyUnderAFreeLock(Kind kind) throws Throwable {
        AtomicBoolean ran = new AtomicBoolean();
        try (Contender contender = Contender.create(kind, database, "bench-test", 2)) {
            assertThat(contender.tryRun(name(), () -> ran.set(true))).isTrue();
        }
        assertThat(ran).isTrue();
    }

    /** The in-memory proxies are the subject of {@link #theInMemoryProxiesNeverReachTheDatabaseAndOnlyTheObservedOnesObserve}. */
    @ParameterizedTest
    @MethodSource("onTheDatabase")
    void eachContenderRefusesALockAnotherInstanceHolds(Kind kind) throws Throwable {
        String name = name();
        // a method-scoped proxy cannot hold past its call, and shared joins do not exclude each other: the
        // registry, sharing their keys, holds exclusively for them
        Kind holderKind = kind == Kind.ANNOTATION || kind == Kind.ANNOTATION_OBSERVED
                || kind == Kind.ANNOTATION_OBSERVATIONS || kind == Kind.REGISTRY_SHARED_JOIN ? Kind.REGISTRY : kind;
        try (Contender holder = Contender.create(holderKind, database, "bench-test", 2);
                Contender other = Contender.create(kind, database, "bench-test", 2)) {
            Held held = holder.tryHold(name);
            assertThat(held).isNotNull();
            assertThat(other.tryRun(name, () -> { })).isFalse();
            held.release();
            assertThat(other.tryRun(name, () -> { })).isTrue();
        }
    }

    @Test
    void onlyTheObservedProxyHasTheStartersObservationsAndAllReachTheDatabase() throws Throwable {
        try (Contender plain = Contender.create(Kind.ANNOTATION, database, "bench-test", 1);
                Contender observed = Contender.create(Kind.ANNOTATION_OBSERVED, database, "bench-test", 1);
                Contender observations = Contender.create(Kind.ANNOTATION_OBSERVATIONS, database, "bench-test", 1)) {
            assertThat(((AnnotationContender) plain).isObserved()).isFalse();
            assertThat(((AnnotationContender) observed).isObserved()).isTrue();
            assertThat(((AnnotationContender) observations).isObserved()).isTrue();
            assertThat(((AnnotationContender) plain).isInMemory()).isFalse();
            assertThat(((AnnotationContender) observed).isInMemory()).isFalse();
            assertThat(((AnnotationContender) observations).isInMemory()).isFalse();
        }
    }

    static Stream<Kind> onTheDatabase() {
        return Arrays.stream(Kind.values()).filter(kind -> !kind.inMemory());
    }

    @Test
    void theInMemoryProxiesNeverReachTheDatabaseAndOnlyTheObservedOnesObserve() throws Throwable {
        String name = name();
        try (Contender holder = Contender.create(Kind.REGISTRY, database, "bench-test", 1);
                Contender plain = Contender.create(Kind.ANNOTATION_IN_MEMORY, database, "bench-test", 1);
                Contender observed = Contender.create(Kind.ANNOTATION_OBSERVED_IN_MEMORY, database, "bench-test", 1);
                Contender observations = Contender.create(Kind.ANNOTATION_OBSERVATIONS_IN_MEMORY, database,
                        "bench-test", 1)) {
            Held held = holder.tryHold(name);
            assertThat(held).isNotNull();
            for (Contender inMemory : new Contender[] {plain, observed, observations}) {
                assertThat(((AnnotationContender) inMemory).isInMemory()).isTrue();
                // the database's holder does not exclude them: their locks live in their own JVM
                assertThat(inMemory.tryRun(name, () -> { })).isTrue();
            }
            held.release();
            assertThat(((AnnotationContender) plain).isObserved()).isFalse();
            assertThat(((AnnotationContender) observed).isObserved()).isTrue();
            assertThat(((AnnotationContender) observations).isObserved()).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"FLOOR", "POOL_PER_LOCK", "REGISTRY", "SPRING_INTEGRATION",
            "SPRING_INTEGRATION_PALS"})
    void aWaitingContenderGetsTheLockOnceReleased(Kind kind) throws Throwable {
        String name = name();
        try (Contender holder = Contender.create(kind, database, "bench-test", 2);
                Contender waiter = Contender.create(kind, database, "bench-test", 2)) {
            Held held = holder.tryHold(name);
            assertThat(held).isNotNull();
            CompletableFuture<Boolean> waited = CompletableFuture.supplyAsync(() -> {
                try {
                    Held got = waiter.hold(name, Duration.ofSeconds(30));
                    if (got == null) {
                        return false;
                    }
                    got.release();
                    return true;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            if (kind != Kind.SPRING_INTEGRATION) {
                // queued in the server before the release, so that the hand-off itself is what is tested
                await().atMost(Duration.ofSeconds(30)).until(() -> "1".equals(database.queryString(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")));
            }
            held.release();
            assertThat(waited.get(30, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void shedLockSaysWhyItCannotWait() throws Exception {
        assertThat(Kind.SHEDLOCK.cannotWait).contains("never waits");
        try (Contender shedLock = Contender.create(Kind.SHEDLOCK, database, "bench-test", 1)) {
            assertThatThrownBy(() -> shedLock.hold(name(), Duration.ofSeconds(1)))
                    .isInstanceOf(UnsupportedOperationException.class);
        }
    }

    @Test
    void aServerStartedForTheComparisonHasRoomForScenarioFour() {
        assumeTrue(System.getenv(TestDatabase.URL_VARIABLE) == null, "an external server keeps its own settings");
        assertThat(database.queryString("SHOW max_locks_per_transaction"))
                .isEqualTo(BenchmarkDatabase.MAX_LOCKS_PER_TRANSACTION);
    }

    private static String name() {
        return "contender-test-" + UUID.randomUUID();
    }

    @Test
    void interleavedRoundsCountTheHeapEachContenderAllocatesPerCall() throws Exception {
        Interleaved interleaved = new Interleaved(database, 1, 20, 2, 30);

        Map<Kind, Samples> rounds = interleaved.measure(List.of(Kind.FLOOR, Kind.REGISTRY));

        assertThat(rounds.get(Kind.REGISTRY).count()).isEqualTo(60);
        Map<Kind, Double> allocated = interleaved.allocatedPerCall();
        assertThat(allocated.get(Kind.FLOOR)).as("the floor's bytes per call").isPositive();
        // the registry does the floor's JDBC calls and more: a handle, the key's state, its holder
        assertThat(allocated.get(Kind.REGISTRY)).as("the registry's bytes per call").isGreaterThan(allocated.get(Kind.FLOOR));
    }

    @Test
    void handOffsInTurnsGiveEachContenderEveryRoundOfEveryBlock() throws Exception {
        HandOff handOff = new HandOff(database, 1, 3);

        Samples[] inTurns = handOff.measureInTurns(Kind.FLOOR, Kind.REGISTRY, 2);

        assertThat(inTurns).hasSize(2);
        for (Samples each : inTurns) {
            assertThat(each.count()).isEqualTo(6);
            assertThat(each.blockMedianMicros()).hasSize(2);
            assertThat(Arrays.stream(each.blockMedianMicros()).min().orElseThrow()).isPositive();
        }
    }

    @Test
    void physicalLimitChargesEachFormTheCpuItsPairsCost() throws Exception {
        PhysicalLimit.Result result = new PhysicalLimit(database, 1, 200).measure();

        for (PhysicalLimit.Phase phase : List.of(result.pipeline(), result.oneStatement(), result.registry(),
                result.wakeUps())) {
            assertThat(phase.pairsPerSecond()).isPositive();
            assertThat(phase.jvmMicros()).as("this JVM's CPU per pair").isPositive();
            if (Files.isReadable(Path.of("/proc/stat"))) {
                assertThat(phase.machineMicros()).as("the machine's CPU per pair").isPositive();
            }
        }
        // a registry's pair is two calls, each on a thread of its own; a pair of the limit's one
        // statement is a fiftieth of a round trip
        assertThat(result.registry().jvmMicros()).isGreaterThan(result.oneStatement().jvmMicros());
    }
}
