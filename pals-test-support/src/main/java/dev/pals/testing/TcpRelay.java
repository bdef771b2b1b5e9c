package dev.pals.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.postgresql.Driver;

/**
 * A relay on loopback in front of the test server: a service pointed at {@link #jdbcUrl()}
 * reaches the server through it. It can fail the way networks do:
 * <ul>
 *   <li>{@link #close()} makes the server vanish loudly: every relayed connection breaks, new ones
 *       are refused;
 *   <li>{@link #blackHole()} makes it vanish silently: nothing is forwarded any more, both ways,
 *       and nothing is closed, as when a host dies or the network splits (the client's own
 *       kernel still acknowledges what it sends, so this tests the client's bounds; the server's
 *       need a real partition);
 *   <li>{@link #delayOpenConnections} slows the connections open now, so that a new connection
 *       (a cancel request) can overtake a statement already sent on an old one.
 * </ul>
 * The server runs on for the other tests.
 */
public final class TcpRelay implements AutoCloseable {

    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final String jdbcUrl;
    private final Set<Link> links = ConcurrentHashMap.newKeySet();
    private volatile boolean blackHoled;

    private TcpRelay(String serverUrl) throws IOException {
        Properties parsed = Driver.parseURL(serverUrl, null);
        if (parsed == null) {
            throw new IllegalArgumentException("Not a PostgreSQL JDBC URL: " + serverUrl);
        }
        String host = parsed.getProperty("PGHOST").split(",", 2)[0];
        int port = Integer.parseInt(parsed.getProperty("PGPORT").split(",", 2)[0]);
        this.target = new InetSocketAddress(host, port);
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        String database = parsed.getProperty("PGDBNAME");
        this.jdbcUrl = "jdbc:postgresql://127.0.0.1:" + listener.getLocalPort() + "/" + database;
        Thread acceptor = new Thread(this::accept, "tcp-relay-" + listener.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** A relay to the server of {@code serverUrl}, started. */
    public static TcpRelay to(String serverUrl) {
        try {
            return new TcpRelay(serverUrl);
        } catch (IOException e) {
            throw new IllegalStateException("Could not start a relay on loopback", e);
        }
    }

    /** The JDBC URL of the server's database through this relay. */
    public String jdbcUrl() {
        return jdbcUrl;
    }

    /**
     * Stops forwarding, both ways, on every relayed connection and on those opened later, without
     * closing any: clients see their statements go unanswered, as behind a silent partition.
     */
    public void blackHole() {
        blackHoled = true;
        links.forEach(link -> link.blackHoled = true);
    }

    /**
     * Stops forwarding, both ways, on the one relayed connection whose end at the server has the
     * local port {@code clientPort} (as {@code pg_stat_activity.client_port} shows it).
     *
     * @return whether such a connection was found
     */
    public boolean blackHole(int clientPort) {
        boolean found = false;
        for (Link link : links) {
            if (link.server.getLocalPort() == clientPort) {
                link.blackHoled = true;
                found = true;
            }
        }
        return found;
    }

    /**
     * Bytes the client has sent so far on the relayed connection whose end at the server has the
     * local port {@code clientPort}, forwarded or not: a test can see that a statement left the
     * client while a delay still holds it back from the server.
     *
     * @throws IllegalArgumentException if no such connection is relayed
     */
    public long bytesFromClient(int clientPort) {
        return links.stream().filter(link -> link.server.getLocalPort() == clientPort).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("No relayed connection has client port " + clientPort))
                .fromClient.get();
    }

    /**
     * Delays every byte of the connections open now by {@code delay}, in both directions; later
     * connections are not delayed.
     */
    public void delayOpenConnections(Duration delay) {
        links.forEach(link -> link.delayNanos = delay.toNanos());
    }

    /** Breaks every relayed connection and refuses new ones. */
    @Override
    public void close() {
        closeQuietly(listener);
        links.forEach(Link::close);
    }

    private void accept() {
        while (!listener.isClosed()) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException closed) {
                return;
            }
            Socket server = new Socket();
            try {
                if (listener.isClosed()) {
                    throw new IOException("relay closed");
                }
                server.connect(target);
                Link link = new Link(client, server);
                // added before the flag is read, so that a concurrent blackHole() reaches it one way or the other
                links.add(link);
                link.blackHoled = blackHoled;
                link.start();
            } catch (IOException e) {
                // closed, or the server refused: the client sees its connection fail
                closeQuietly(client);
                closeQuietly(server);
            }
        }
    }

    /** One relayed connection: a pump and a writer each way. */
    private final class Link {
        final Socket client;
        final Socket server;
        volatile boolean blackHoled;
        volatile long delayNanos;
        final AtomicLong fromClient = new AtomicLong();

        Link(Socket client, Socket server) {
            this.client = client;
            this.server = server;
        }

        void start() {
            pump(client, server);
            pump(server, client);
        }

        void close() {
            closeQuietly(client);
            closeQuietly(server);
            links.remove(this);
        }

        /** Reads on one thread and writes on another, so that a delay holds back bytes, not reads. */
        private void pump(Socket from, Socket to) {
            BlockingQueue<Chunk> pending = new LinkedBlockingQueue<>();
            Thread reader = new Thread(() -> {
                byte[] buffer = new byte[8192];
                try (InputStream in = from.getInputStream()) {
                    for (int read = in.read(buffer); read >= 0; read = in.read(buffer)) {
                        if (from == client) {
                            fromClient.addAndGet(read);
                        }
                        if (!blackHoled) {
                            pending.add(new Chunk(Arrays.copyOf(buffer, read), System.nanoTime() + delayNanos));
                        }
                    }
                } catch (IOException e) {
                    // one side closed; the other is closed below
                } finally {
                    pending.add(Chunk.END);
                }
            }, "tcp-relay-read");
            Thread writer = new Thread(() -> {
                try (OutputStream out = to.getOutputStream()) {
                    for (Chunk chunk = pending.take(); chunk != Chunk.END; chunk = pending.take()) {
                        // a delayed link holds each chunk until its time: this simulates latency, it waits for nothing
                        for (long left = chunk.due - System.nanoTime(); left > 0; left = chunk.due - System.nanoTime()) {
                            LockSupport.parkNanos(left);
                        }
                        if (!blackHoled) {
                            out.write(chunk.bytes);
                            out.flush();
                        }
                    }
                } catch (IOException | InterruptedException e) {
                    // one side closed
                } finally {
                    if (!blackHoled) {
                        close();
                    }
                }
            }, "tcp-relay-write");
            reader.setDaemon(true);
            writer.setDaemon(true);
            reader.start();
            writer.start();
        }
    }

    /** A class, not a record: the end marker is found by identity and the bytes are not a value. */
    private static final class Chunk {
        static final Chunk END = new Chunk(new byte[0], 0);

        final byte[] bytes;
        final long due;

        Chunk(byte[] bytes, long due) {
            this.bytes = bytes;
            this.due = due;
        }
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            // already closed
        }
    }
}
