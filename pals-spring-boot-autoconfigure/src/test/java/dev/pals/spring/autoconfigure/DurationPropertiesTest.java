package dev.pals.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pals.spring.StarterTestSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Each duration property of the starter refuses a negative or absurd value at start-up, naming it and its bound. */
class DurationPropertiesTest extends StarterTestSupport {

    /** Boot names a property whose setter refused its value by prefix and name: "under 'pals'", "property x". */
    @ParameterizedTest(name = "{0}.{1}={2}")
    @CsvSource(delimiter = '|', value = {
        "pals        | idle-timeout          | -1s | must not be negative",
        "pals        | loss-check-interval   | 0s  | must be positive",
        "pals        | loss-check-interval   | -1s | must be positive",
        "pals        | network-timeout       | -2s | must be positive and at most",
        "pals        | network-timeout       | 30d | must be positive and at most",
        "pals        | silent-client-timeout | 1s  | must be at least 2s and at most 18h",
        "pals        | silent-client-timeout | 30h | must be at least 2s and at most 18h",
        "pals.leader | retry-interval        | 0s  | must be positive",
    })
    void badDurationFailsStartUpNamingThePropertyAndItsBound(String prefix, String property, String value,
            String bound) {
        instance().withPropertyValues(prefix + "." + property + "=" + value).run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).hasStackTraceContaining("under '" + prefix + "'")
                    .hasStackTraceContaining("property " + property).hasStackTraceContaining(bound);
        });
    }
}
