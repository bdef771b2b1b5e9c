package dev.pals.spring;

import dev.pals.spring.autoconfigure.PalsAutoConfiguration;
import dev.pals.testing.ApiSurface;
import org.junit.jupiter.api.Test;

/**
 * The starter's public API, every public type of {@code dev.pals.spring} and its sub-packages, is
 * the one in {@code api/pals-spring-boot-autoconfigure.txt}: it changes only when that file does.
 */
class ApiSurfaceTest {

    @Test
    void publicApiIsTheCheckedInOne() {
        ApiSurface.check("pals-spring-boot-autoconfigure", PalsAutoConfiguration.class);
    }
}
