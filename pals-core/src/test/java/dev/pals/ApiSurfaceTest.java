package dev.pals;

import dev.pals.testing.ApiSurface;
import org.junit.jupiter.api.Test;

/** The core's public API is the one in {@code api/pals-core.txt}: it changes only when that file does. */
class ApiSurfaceTest {

    @Test
    void publicApiIsTheCheckedInOne() {
        ApiSurface.check("pals-core", LockRegistry.class);
    }
}
