package dev.pals.spring.autoconfigure;

import com.zaxxer.hikari.HikariConfig;
import org.jspecify.annotations.Nullable;
import org.springframework.aot.hint.MemberCategory;
import org.springframework.aot.hint.RuntimeHints;
import org.springframework.aot.hint.RuntimeHintsRegistrar;
import org.springframework.boot.context.properties.bind.BindableRuntimeHintsRegistrar;

/**
 * What a native image needs to make the lock pool: {@code pals.datasource.hikari.*} is bound onto a
 * {@link HikariConfig} through its setters, and HikariCP copies that configuration into the pool
 * field by field, reflectively. Registered here rather than left to the service's own DataSource,
 * which may not be HikariCP's.
 */
final class LockConnectionPoolRuntimeHints implements RuntimeHintsRegistrar {

    @Override
    public void registerHints(RuntimeHints hints, @Nullable ClassLoader classLoader) {
        BindableRuntimeHintsRegistrar.forTypes(HikariConfig.class).registerHints(hints, classLoader);
        hints.reflection().registerType(HikariConfig.class, MemberCategory.ACCESS_DECLARED_FIELDS);
    }
}
