package dev.pals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A test host of its own on this machine: a network namespace joined to this one by a veth pair,
 * and a silent partition between them made with iptables (packets dropped both ways, nothing
 * reset). Needs root, {@code ip} and {@code iptables}; without them the test is skipped with a
 * message saying what is missing, except under CI ({@code CI} set), where it fails.
 */
final class NetworkLab implements AutoCloseable {

    private static final long COMMAND_SECONDS = 20;
    /** Where Debian puts ip and iptables, which a non-login shell's PATH may lack. */
    private static final String PATH = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin";

    final String namespace;
    /** The address of this machine on the link, where a server for the host listens. */
    final String hostAddress;
    /** The address of the test host. */
    final String peerAddress;
    /** The link's subnet, for pg_hba.conf. */
    final String subnet;
    private final String hostLink;
    private boolean partitioned;

    private NetworkLab(int id) {
        this.namespace = "pals-lab-" + id;
        this.hostLink = "palslab" + id;
        this.hostAddress = "10.231." + id + ".1";
        this.peerAddress = "10.231." + id + ".2";
        this.subnet = "10.231." + id + ".0/30";
    }

    /** Makes the test host, or skips (fails under CI) when this machine cannot. */
    static NetworkLab create() {
        String missing = missingTools();
        if (missing != null) {
            throw Infrastructure.missing("Network partition tests need " + missing + " (run as root with iproute2 and "
                    + "iptables installed; .ci/run installs them)");
        }
        NetworkLab lab = new NetworkLab(ThreadLocalRandom.current().nextInt(1, 250));
        try {
            lab.setUp();
        } catch (IllegalStateException e) {
            lab.close();
            // root without the right to make network namespaces, as in a default container
            throw Infrastructure.missing("Network partition tests could not make a test host: " + e.getMessage());
        }
        return lab;
    }

    private static String missingTools() {
        if (!"root".equals(System.getProperty("user.name"))) {
            return "root (running as " + System.getProperty("user.name") + ")";
        }
        for (String tool : List.of("ip", "iptables")) {
            if (!succeeds(List.of("sh", "-c", "command -v " + tool))) {
                return "the '" + tool + "' command";
            }
        }
        return null;
    }

    private void setUp() {
        run("ip", "netns", "add", namespace);
        run("ip", "link", "add", hostLink, "type", "veth", "peer", "name", hostLink + "p");
        run("ip", "link", "set", hostLink + "p", "netns", namespace);
        run("ip", "addr", "add", hostAddress + "/30", "dev", hostLink);
        run("ip", "link", "set", hostLink, "up");
        inNamespace("ip", "addr", "add", peerAddress + "/30", "dev", hostLink + "p");
        inNamespace("ip", "link", "set", hostLink + "p", "up");
        inNamespace("ip", "link", "set", "lo", "up");
    }

    /** The command line that runs {@code command} on the test host. */
    List<String> onHost(List<String> command) {
        List<String> line = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
        line.addAll(command);
        return line;
    }

    /**
     * Drops every packet between the test host and this machine, both ways, on arrival: senders
     * see no error and no reset, as when a host dies or the network splits.
     */
    void partition() {
        inNamespace("iptables", "-I", "INPUT", "-j", "DROP");
        run("iptables", "-I", "INPUT", "-i", hostLink, "-j", "DROP");
        partitioned = true;
    }

    /** Lets packets through again, both ways. */
    void heal() {
        if (partitioned) {
            quietly(onHost(List.of("iptables", "-D", "INPUT", "-j", "DROP")).toArray(String[]::new));
            quietly("iptables", "-D", "INPUT", "-i", hostLink, "-j", "DROP");
            partitioned = false;
        }
    }

    /** Removes the partition and the test host. */
    @Override
    public void close() {
        heal();
        quietly("ip", "link", "del", hostLink);
        quietly("ip", "netns", "del", namespace);
    }

    private void inNamespace(String... command) {
        run(onHost(List.of(command)).toArray(String[]::new));
    }

    private static void run(String... command) {
        try {
            Process process = processBuilder(List.of(command)).start();
            if (!process.waitFor(COMMAND_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " did not finish in " + COMMAND_SECONDS + " s");
            }
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (process.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed (" + process.exitValue() + "): "
                        + output.trim());
            }
        } catch (IOException e) {
            throw new IllegalStateException("Could not run " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted running " + String.join(" ", command), e);
        }
    }

    /** A process builder for {@code command}, with the system directories on its PATH. */
    static ProcessBuilder processBuilder(List<String> command) {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("PATH", PATH);
        return builder;
    }

    private static void quietly(String... command) {
        try {
            run(command);
        } catch (IllegalStateException ignored) {
            // cleaning up what may not have been made
        }
    }

    private static boolean succeeds(List<String> command) {
        try {
            Process process = processBuilder(command).start();
            return process.waitFor(COMMAND_SECONDS, TimeUnit.SECONDS) && process.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
