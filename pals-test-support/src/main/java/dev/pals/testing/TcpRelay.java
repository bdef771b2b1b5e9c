package dev.pals.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.postgresql.Driver;

/**
 * A relay on loopback in front of the test server: a service pointed at {@link #jdbcUrl()}
 * reaches the server through it, and {@link #close()} makes the server vanish for that service
 * (every relayed connection breaks, new ones are refused) while the server runs on for the
 * other tests.
 */
public final class TcpRelay implements AutoCloseable {

    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final String jdbcUrl;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();

    private TcpRelay(String serverUrl) throws IOException {
        Properties parsed = Driver.parseURL(serverUrl, null);
        if (parsed == null) {
            throw new IllegalArgumentException("Not a PostgreSQL JDBC URL: " + serverUrl);
        }
        String host = parsed.getProperty("PGHOST").split(",")[0];
        int port = Integer.parseInt(parsed.getProperty("PGPORT").split(",")[0]);
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

    /** Breaks every relayed connection and refuses new ones. */
    @Override
    public void close() {
        closeQuietly(listener);
        sockets.forEach(TcpRelay::closeQuietly);
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
            sockets.add(client);
            sockets.add(server);
            try {
                if (listener.isClosed()) {
                    throw new IOException("relay closed");
                }
                server.connect(target);
                pump(client, server);
                pump(server, client);
            } catch (IOException e) {
                // closed, or the server refused: the client sees its connection fail
                closeQuietly(client);
                closeQuietly(server);
            }
        }
    }

    private void pump(Socket from, Socket to) {
        Thread thread = new Thread(() -> {
            byte[] buffer = new byte[8192];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int read = in.read(buffer); read >= 0; read = in.read(buffer)) {
                    out.write(buffer, 0, read);
                    out.flush();
                }
            } catch (IOException e) {
                // one side closed; the other is closed below
            } finally {
                closeQuietly(from);
                closeQuietly(to);
                sockets.remove(from);
                sockets.remove(to);
            }
        }, "tcp-relay-pump");
        thread.setDaemon(true);
        thread.start();
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            // already closed
        }
    }
}
