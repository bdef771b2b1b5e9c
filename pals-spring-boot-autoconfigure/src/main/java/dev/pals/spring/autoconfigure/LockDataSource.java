package dev.pals.spring.autoconfigure;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.beans.factory.annotation.Qualifier;

/**
 * Qualifies a {@link javax.sql.DataSource} bean of the service's as the one PALs takes its locks
 * on, instead of the lock pool PALs would make; as {@code @FlywayDataSource} does for Flyway. Its
 * connections stay out of it for as long as they hold locks, so give it a pool of its own,
 * apart from the service's DataSource, with room for {@code pals.datasource.maximum-pool-size}
 * connections. Spring Boot then makes no DataSource of its own, so a service that needs one
 * defines it too, marked {@code @Primary}, as with Flyway's.
 */
@Target({ElementType.FIELD, ElementType.METHOD, ElementType.PARAMETER, ElementType.TYPE, ElementType.ANNOTATION_TYPE})
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Qualifier
public @interface LockDataSource {
}
