package dev.pals.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.pals.AdvisoryLock;
import dev.pals.LockRegistry;
import java.io.BufferedReader;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;

/**
 * One JVM of scenario 11's fleet, started by {@link Fleet}: a number of registries, each with a
 * lock pool of its own at the starter's defaults, as that many service instances would have. Each
 * registry takes its long-lived locks, says {@code READY} on standard output, waits for {@code GO}
 * on standard input, then one worker of each contends on the shared keys until the run's end, and
 * the JVM writes its samples (nanoseconds, as longs) to the files it was given.
 *
 * <p>A hand-off is timed from the release of the previous holder to the waiter's acquisition; the
 * holder writes its release time into the key's slot of a file every member maps, and
 * {@link System#nanoTime()} is one monotonic clock for all processes of one Linux machine.
 */
final class FleetMember {

    private static final Duration PATIENCE = Duration.ofSeconds(30);
    private static final int SLOT = Long.BYTES;

    private FleetMember() {
    }

    /**
     * Arguments: member index, registries, long-lived locks per registry, shared keys, hold in
     * microseconds, pause between acquisitions in microseconds, run in milliseconds, slots file,
     * acquisitions output, hand-offs output.
     */
    public static void main(String[] args) throws Exception {
        int member = Integer.parseInt(args[0]);
        int registries = Integer.parseInt(args[1]);
        int held = Integer.parseInt(args[2]);
        int sharedKeys = Integer.parseInt(args[3]);
        long holdMicros = Long.parseLong(args[4]);
        long pauseMicros = Long.parseLong(args[5]);
        long runMillis = Long.parseLong(args[6]);
        BenchmarkDatabase database = BenchmarkDatabase.fromSystemProperties();
        List<HikariDataSource> pools = new ArrayList<>();
        List<LockRegistry> fleet = new ArrayList<>();
        // referenced until the end: the registry releases, with a warning, a held lock whose handle is collected
        List<AdvisoryLock> longLived = new ArrayList<>();
        try (FileChannel channel = FileChannel.open(Path.of(args[7]), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedByteBuffer slots = channel.map(FileChannel.MapMode.READ_WRITE, 0, (long) sharedKeys * SLOT);
            for (int r = 0; r < registries; r++) {
                // the starter's lock pool: the registry's 4 connections and one for the health check
                HikariDataSource pool = database.pool(Fleet.APPLICATION_NAME, RegistryContender.CONNECTIONS + 1);
                pools.add(pool);
                LockRegistry registry = LockRegistry.builder(pool).build();
                fleet.add(registry);
                for (int i = 0; i < held; i++) {
                    AdvisoryLock lock = registry.lock("fleet-held-" + member + "-" + r + "-" + i);
                    if (!lock.tryAcquire()) {
                        throw new IllegalStateException("could not take a free long-lived lock");
                    }
                    longLived.add(lock);
                }
            }
            // as JMH does between iterations: the run's young collections then copy what the run keeps
            // alive, not the setup's registries, connections and long-lived locks once more each
            System.gc();
            System.out.println("READY");
            System.out.flush();
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                if (!"GO".equals(in.readLine())) {
                    throw new IllegalStateException("the fleet's coordinator went away");
                }
            }
            long deadline = System.nanoTime() + runMillis * 1_000_000;
            List<Worker> workers = new ArrayList<>();
            for (LockRegistry registry : fleet) {
                Worker worker = new Worker(registry, slots, sharedKeys, holdMicros, pauseMicros, deadline);
                workers.add(worker);
                worker.thread.start();
            }
            for (Worker worker : workers) {
                worker.thread.join(runMillis + PATIENCE.toMillis() * 2);
                if (worker.failure != null) {
                    throw new IllegalStateException("a worker failed", worker.failure);
                }
            }
            write(Path.of(args[8]), workers, true);
            write(Path.of(args[9]), workers, false);
            longLived.forEach(AdvisoryLock::release);
        } finally {
            fleet.forEach(LockRegistry::close);
            pools.forEach(HikariDataSource::close);
        }
        System.exit(0);
    }

    private static void write(Path file, List<Worker> workers, boolean acquisitions) throws IOException {
        try (OutputStream out = Files.newOutputStream(file); DataOutputStream data = new DataOutputStream(out)) {
            for (Worker worker : workers) {
                for (long each : acquisitions ? worker.acquisitions : worker.handOffs) {
                    data.writeLong(each);
                }
            }
        }
    }

    /** One registry's contending thread. */
    private static final class Worker implements Runnable {

        final Thread thread = new Thread(this, "fleet-worker");
        final List<Long> acquisitions = new ArrayList<>();
        final List<Long> handOffs = new ArrayList<>();
        volatile @Nullable Throwable failure;

        private final LockRegistry registry;
        private final MappedByteBuffer slots;
        private final int sharedKeys;
        private final long holdMicros;
        private final long pauseMicros;
        private final long deadline;

        Worker(LockRegistry registry, MappedByteBuffer slots, int sharedKeys, long holdMicros, long pauseMicros,
                long deadline) {
            this.registry = registry;
            this.slots = slots;
            this.sharedKeys = sharedKeys;
            this.holdMicros = holdMicros;
            this.pauseMicros = pauseMicros;
            this.deadline = deadline;
        }

        @Override
        public void run() {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            try {
                while (System.nanoTime() < deadline) {
                    int key = random.nextInt(sharedKeys);
                    AdvisoryLock lock = registry.lock("fleet-shared-" + key);
                    long asked = System.nanoTime();
                    if (!lock.tryAcquire(PATIENCE)) {
                        throw new IllegalStateException("an acquisition of a shared key timed out after " + PATIENCE);
                    }
                    long got = System.nanoTime();
                    acquisitions.add(got - asked);
                    long released = slots.getLong(key * SLOT);
                    if (released > asked) {
                        // the previous holder let go while this one was asking: a hand-off
                        handOffs.add(got - released);
                    }
                    // the critical section's work, and the pause before the next: the workload, not a wait
                    Thread.sleep(holdMicros / 1_000, (int) (holdMicros % 1_000) * 1_000);
                    slots.putLong(key * SLOT, System.nanoTime());
                    lock.release();
                    Thread.sleep(random.nextLong(pauseMicros + 1) / 1_000);
                }
            } catch (Throwable e) {
                failure = e;
            }
        }
    }
}
