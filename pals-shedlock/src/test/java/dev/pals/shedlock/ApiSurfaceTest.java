package dev.pals.shedlock;

import dev.pals.testing.ApiSurface;
import org.junit.jupiter.api.Test;

/**
 * The ShedLock bridge's public API, every public type of {@code dev.pals.shedlock}, is the one in
 * {@code api/pals-shedlock.txt}: it changes only when that file does.
 */
class ApiSurfaceTest {

    @Test
    void publicApiIsTheCheckedInOne() {
        ApiSurface.check("pals-shedlock", AdvisoryLockProvider.class);
    }
}
