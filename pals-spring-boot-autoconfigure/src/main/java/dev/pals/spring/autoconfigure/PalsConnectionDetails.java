package dev.pals.spring.autoconfigure;

import org.jspecify.annotations.Nullable;
import org.springframework.boot.autoconfigure.service.connection.ConnectionDetails;

/**
 * The PostgreSQL database PALs takes its locks in. Without a bean of this type PALs makes one
 * from {@code pals.datasource.*}, falling back field by field to the service's own database
 * ({@code spring.datasource.*} or a service connection such as Testcontainers'); a bean of the
 * service's, or a service connection that provides this type, replaces it. A
 * {@link LockDataSource @LockDataSource} DataSource takes precedence over both.
 */
public interface PalsConnectionDetails extends ConnectionDetails {

    /** The JDBC URL of the lock database, a {@code jdbc:postgresql:} one. */
    String getJdbcUrl();

    /** The login user of the lock database, or {@code null} for the driver's default. */
    default @Nullable String getUsername() {
        return null;
    }

    /** The login password of the lock database, or {@code null} for none. */
    default @Nullable String getPassword() {
        return null;
    }
}
