package dev.pals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.net.URL;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * PgJDBC is optional for the core: its classes run, cancel waits and know their backends on a
 * class loader that has no {@code org.postgresql} at all. The connections still come from PgJDBC,
 * through the parent loader, so what runs is the core's plain-JDBC path on a real server.
 */
class WithoutPgJdbcTest extends LockTestSupport {

    /** Far below the registry's network timeout, after which an unheeded cancel would end the wait by abort. */
    private static final Duration PROMPTLY = Duration.ofSeconds(5);

    @Test
    void interruptCancelsASessionWaitInTheServer() throws Exception {
        runWithoutPgJdbc(SessionWait.class);
    }

    @Test
    void interruptCancelsATransactionWaitOnTheCallersConnection() throws Exception {
        runWithoutPgJdbc(TransactionWait.class);
    }

    @Test
    void activityShowsTheBackendOfATrackedTransactionHold() throws Exception {
        runWithoutPgJdbc(TransactionHold.class);
    }

    private void runWithoutPgJdbc(Class<? extends Callable<Void>> scenario) throws Exception {
        ClassLoader hiding = new HidingPgJdbc(getClass().getClassLoader());
        assertThatThrownBy(() -> hiding.loadClass("org.postgresql.PGConnection"))
                .isInstanceOf(ClassNotFoundException.class);
        assertThat(hiding.loadClass(LockRegistry.class.getName())).isNotSameAs(LockRegistry.class);
        // another loader's class is in another runtime package, so its package-private constructor needs opening
        Constructor<?> constructor = hiding.loadClass(scenario.getName())
                .getDeclaredConstructor(DataSource.class, String.class);
        constructor.setAccessible(true);
        ((Callable<?>) constructor.newInstance(dataSource, namespace)).call();
    }

    /** Holds a lock from outside, waits for it in the server, and interrupts the wait. */
    static final class SessionWait implements Callable<Void> {

        private final DataSource dataSource;
        private final String namespace;

        SessionWait(DataSource dataSource, String namespace) {
            this.dataSource = dataSource;
            this.namespace = namespace;
        }

        @Override
        public Void call() throws Exception {
            requireHidden(getClass());
            try (LockRegistry registry = withoutAbortSoon(dataSource, namespace);
                    Connection outside = dataSource.getConnection()) {
                AdvisoryLock lock = registry.lock("contested");
                try (PreparedStatement hold = outside.prepareStatement("SELECT pg_advisory_lock(?)")) {
                    hold.setLong(1, lock.key().value());
                    hold.execute();
                }
                AtomicReference<Object> outcome = new AtomicReference<>();
                Thread waiter = new Thread(() -> outcome.set(acquireOrInterrupted(
                        () -> lock.tryAcquire(Duration.ofMinutes(1)))));
                waiter.start();
                awaitWaiters(dataSource, lock.key(), 1, Duration.ofSeconds(30));

                waiter.interrupt();
                waiter.join(PROMPTLY.toMillis());

                assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
                // the caller does not wait for the cancel here; the server shows that it landed
                awaitWaiters(dataSource, lock.key(), 0, PROMPTLY);
                try (Statement statement = outside.createStatement()) {
                    statement.execute("SELECT pg_advisory_unlock_all()");
                }
                assertThat(lock.tryAcquire(Duration.ofSeconds(10))).isTrue();
                lock.release();
            }
            return null;
        }
    }

    /** Holds a transaction lock in one transaction, waits for it in another, and interrupts the wait. */
    static final class TransactionWait implements Callable<Void> {

        private final DataSource dataSource;
        private final String namespace;

        TransactionWait(DataSource dataSource, String namespace) {
            this.dataSource = dataSource;
            this.namespace = namespace;
        }

        @Override
        public Void call() throws Exception {
            requireHidden(getClass());
            try (LockRegistry registry = withoutAbortSoon(dataSource, namespace);
                    Connection holder = dataSource.getConnection(); Connection waiting = dataSource.getConnection()) {
                TransactionLock lock = registry.transactionLock("account:7", LockMode.EXCLUSIVE);
                holder.setAutoCommit(false);
                waiting.setAutoCommit(false);
                int waitingPid = pidOf(waiting);
                try {
                    assertThat(lock.tryAcquire(holder)).isTrue();
                    AtomicReference<Object> outcome = new AtomicReference<>();
                    Thread waiter = new Thread(() -> outcome.set(acquireOrInterrupted(
                            () -> lock.tryAcquire(waiting, Duration.ofMinutes(1)))));
                    waiter.start();
                    awaitWaiters(dataSource, lock.key(), 1, Duration.ofSeconds(30));
                    assertThat(registry.activity()).singleElement()
                            .satisfies(wait -> assertThat(wait.backendPid()).isEqualTo(waitingPid));

                    waiter.interrupt();
                    waiter.join(PROMPTLY.toMillis());

                    assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
                    try (Statement statement = waiting.createStatement()) {
                        assertThat(statement.execute("SELECT 'still usable'")).isTrue();
                    }
                } finally {
                    // lets a wait that was never cancelled end too
                    holder.rollback();
                    waiting.rollback();
                }
            }
            return null;
        }
    }

    /** Takes a transaction lock and tracks its hold, which names the transaction's backend. */
    static final class TransactionHold implements Callable<Void> {

        private final DataSource dataSource;
        private final String namespace;

        TransactionHold(DataSource dataSource, String namespace) {
            this.dataSource = dataSource;
            this.namespace = namespace;
        }

        @Override
        public Void call() throws Exception {
            requireHidden(getClass());
            List<Runnable> ends = new ArrayList<>();
            try (LockRegistry registry = LockRegistry.builder(dataSource).namespace(namespace)
                    .transactionCompletion((connection, ended) -> ends.add(ended)).build();
                    Connection transaction = dataSource.getConnection()) {
                TransactionLock lock = registry.transactionLock("account:8", LockMode.EXCLUSIVE);
                transaction.setAutoCommit(false);
                int pid = pidOf(transaction);
                assertThat(lock.tryAcquire(transaction)).isTrue();

                assertThat(registry.activity()).singleElement()
                        .satisfies(activity -> assertThat(activity.backendPid()).isEqualTo(pid));
                transaction.rollback();
                ends.forEach(Runnable::run);
            }
            return null;
        }
    }

    /** Fails unless {@code scenario} and the core it calls came from a loader without PgJDBC. */
    private static void requireHidden(Class<?> scenario) {
        assertThat(LockRegistry.class.getClassLoader()).isSameAs(scenario.getClassLoader());
        assertThatThrownBy(() -> Class.forName("org.postgresql.PGConnection", false, scenario.getClassLoader()))
                .isInstanceOf(ClassNotFoundException.class);
    }

    /** A network timeout far above {@link #PROMPTLY}, so that only a cancel can end a wait in time. */
    private static LockRegistry withoutAbortSoon(DataSource dataSource, String namespace) {
        return LockRegistry.builder(dataSource).namespace(namespace).networkTimeout(Duration.ofSeconds(20))
                .silentClientTimeout(Duration.ofSeconds(60)).build();
    }

    private static Object acquireOrInterrupted(Callable<Boolean> acquire) {
        try {
            return acquire.call();
        } catch (Exception e) {
            return e;
        }
    }

    private static void awaitWaiters(DataSource dataSource, LockKey key, int count, Duration within) {
        await().atMost(within).until(() -> waiters(dataSource, key) == count);
    }

    private static int waiters(DataSource dataSource, LockKey key) throws SQLException {
        try (Connection connection = dataSource.getConnection(); PreparedStatement statement = connection.prepareStatement(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                        + " AND classid = ? AND objid = ? AND objsubid = ?")) {
            statement.setLong(1, key.classId());
            statement.setLong(2, key.objId());
            statement.setInt(3, key.objSubId());
            try (ResultSet rows = statement.executeQuery()) {
                rows.next();
                return rows.getInt(1);
            }
        }
    }

    private static int pidOf(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT pg_backend_pid()")) {
            rows.next();
            return rows.getInt(1);
        }
    }

    /**
     * Defines the classes of {@code dev.pals} (the core's and this test's) itself, from the same class
     * files, so that they link against what it offers, which is everything but PgJDBC. The shared
     * test database ({@code dev.pals.testing}) and everything else come from the parent.
     */
    private static final class HidingPgJdbc extends ClassLoader {

        static {
            registerAsParallelCapable();
        }

        HidingPgJdbc(ClassLoader parent) {
            super(parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (name.startsWith("org.postgresql.")) {
                throw new ClassNotFoundException(name + " is hidden");
            }
            if (!name.startsWith("dev.pals.") || name.startsWith("dev.pals.testing.")) {
                return super.loadClass(name, resolve);
            }
            byte[] bytes = classFile(name);
            synchronized (getClassLoadingLock(name)) {
                Class<?> loaded = findLoadedClass(name);
                if (loaded == null) {
                    loaded = defineClass(name, bytes, 0, bytes.length);
                }
                if (resolve) {
                    resolveClass(loaded);
                }
                return loaded;
            }
        }

        private byte[] classFile(String name) throws ClassNotFoundException {
            try (InputStream in = getParent().getResourceAsStream(name.replace('.', '/') + ".class")) {
                if (in == null) {
                    throw new ClassNotFoundException(name);
                }
                return in.readAllBytes();
            } catch (IOException e) {
                throw new ClassNotFoundException(name, e);
            }
        }

        @Override
        public URL getResource(String name) {
            return name.startsWith("org/postgresql/") ? null : super.getResource(name);
        }

        @Override
        public Enumeration<URL> getResources(String name) throws IOException {
            return name.startsWith("org/postgresql/") ? Collections.emptyEnumeration() : super.getResources(name);
        }
    }
}
