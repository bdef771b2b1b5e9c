package dev.pals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The PostgreSQL advisory-lock key a lock is taken on: one {@code bigint}, or a pair of
 * {@code int}s (PostgreSQL keeps the two key spaces apart, so {@code of(0, 1)} and {@code of(1)}
 * never exclude each other).
 *
 * <p>Names map to keys exactly as the Python library PALs maps them, so a Java service and a
 * Python service that use the same namespace and name exclude each other: the key is the first 8
 * bytes of the SHA-1 of the UTF-8 string {@code "namespace.name"} (just {@code "name"} without a
 * namespace), read as a little-endian signed 64-bit integer.
 *
 * <p>In {@code pg_locks} a {@code bigint} key shows as {@code classid} = its high 32 bits,
 * {@code objid} = its low 32 bits and {@code objsubid = 1}; a pair shows as {@code classid} = the
 * first, {@code objid} = the second and {@code objsubid = 2}.
 */
public final class LockKey {

    /** Never used directly: each derivation digests with a clone of it. */
    private static final MessageDigest SHA1 = newSha1();

    private final long value;
    private final boolean pair;

    private LockKey(long value, boolean pair) {
        this.value = value;
        this.pair = pair;
    }

    /**
     * Derives the key of a name as PALs does.
     *
     * @param namespace the application's namespace (PALs' app name), or {@code null} for none
     * @param name the lock's name; must not be blank
     * @throws IllegalArgumentException if {@code name} is blank or {@code namespace} is blank
     *     but not null
     */
    public static LockKey of(@Nullable String namespace, String name) {
        requireText(name, "lock name");
        if (namespace != null) {
            requireText(namespace, "namespace");
        }
        String qualified = namespace == null ? name : namespace + "." + name;
        byte[] digest = sha1(qualified.getBytes(StandardCharsets.UTF_8));
        return new LockKey(ByteBuffer.wrap(digest, 0, Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).getLong(), false);
    }

    /** A raw {@code bigint} key, as taken by {@code pg_advisory_lock(bigint)}. */
    public static LockKey of(long key) {
        return new LockKey(key, false);
    }

    /** A pair of {@code int} keys, as taken by {@code pg_advisory_lock(int, int)}. */
    public static LockKey of(int key1, int key2) {
        return new LockKey(((long) key1 << 32) | (key2 & 0xFFFF_FFFFL), true);
    }

    /** Whether this key is an {@code (int, int)} pair rather than one {@code bigint}. */
    public boolean isPair() {
        return pair;
    }

    /**
     * The {@code bigint} key; for a pair, the first key in the high and the second in the low 32
     * bits.
     */
    public long value() {
        return value;
    }

    /** The {@code classid} column of this key's row in {@code pg_locks}. */
    public long classId() {
        return value >>> 32;
    }

    /** The {@code objid} column of this key's row in {@code pg_locks}. */
    public long objId() {
        return value & 0xFFFF_FFFFL;
    }

    /** The {@code objsubid} column of this key's row in {@code pg_locks}: 1 for a bigint, 2 for a pair. */
    public int objSubId() {
        return pair ? 2 : 1;
    }

    /** Binds this key as the statement's parameter(s) from {@code index}; returns the next index. */
    int bind(PreparedStatement statement, int index) throws SQLException {
        if (pair) {
            statement.setInt(index, (int) (value >> 32));
            statement.setInt(index + 1, (int) value);
            return index + 2;
        }
        statement.setLong(index, value);
        return index + 1;
    }

    /**
     * One member per distinct key of {@code names}, made by {@code member}, in the one global
     * order of lock sets: ascending {@link #value()}, which every registry derives alike, so that
     * two sets that overlap never wait for each other in a cycle.
     *
     * @throws IllegalArgumentException if {@code names} is empty or a name is blank
     */
    static <M> List<M> inSetOrder(Collection<String> names, Function<String, M> member, Function<M, LockKey> key) {
        Objects.requireNonNull(names, "names");
        if (names.isEmpty()) {
            throw new IllegalArgumentException("A lock set needs at least one name, but none was given");
        }
        Map<LockKey, M> byKey = new LinkedHashMap<>();
        for (String name : names) {
            M made = member.apply(requireText(name, "lock name"));
            byKey.putIfAbsent(key.apply(made), made);
        }
        List<M> ordered = new ArrayList<>(byKey.values());
        ordered.sort(Comparator.comparingLong(made -> key.apply(made).value()));
        return List.copyOf(ordered);
    }

    static String requireText(@Nullable String text, String what) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("The " + what + " must not be null or blank; give a non-blank name, "
                    + "for example \"nightly-report\"");
        }
        return text;
    }

    private static byte[] sha1(byte[] input) {
        try {
            // a clone skips the provider lookup of getInstance, which dominated deriving a key
            return ((MessageDigest) SHA1.clone()).digest(input);
        } catch (CloneNotSupportedException e) {
            return newSha1().digest(input);
        }
    }

    private static MessageDigest newSha1() {
        try {
            return MessageDigest.getInstance("SHA-1");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("Every Java platform must provide SHA-1", e);
        }
    }

    @Override
    public boolean equals(@Nullable Object other) {
        return other instanceof LockKey that && value == that.value && pair == that.pair;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(value) * 31 + (pair ? 1 : 0);
    }

    @Override
    public String toString() {
        return pair ? "(" + (int) (value >> 32) + ", " + (int) value + ")" : Long.toString(value);
    }
}
