package dev.pals.stub;

import dev.pals.LockKey;

/**
 * An advisory lock's identity as PostgreSQL keeps it, the {@code pg_locks} columns: a bigint key is
 * its high and low 32 bits with objsubid 1, an (int, int) pair its two halves with objsubid 2, so
 * that the two keyspaces stay apart as they do in the server.
 */
public record StubKey(long classId, long objId, int objSubId) {

    private static final long LOW_32 = 0xFFFF_FFFFL;

    static StubKey bigint(long key) {
        return new StubKey(key >>> 32, key & LOW_32, 1);
    }

    static StubKey pair(int key1, int key2) {
        return new StubKey(key1 & LOW_32, key2 & LOW_32, 2);
    }

    /** The key a handle's {@link LockKey} names on the server. */
    public static StubKey of(LockKey key) {
        return new StubKey(key.classId(), key.objId(), key.objSubId());
    }
}
