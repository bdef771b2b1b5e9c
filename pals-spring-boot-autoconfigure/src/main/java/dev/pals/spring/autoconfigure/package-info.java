/**
 * Auto-configuration of PALs for Spring Boot: the lock connection pool, the
 * {@link dev.pals.LockRegistry} bean, the {@code pals.*} properties and start-up diagnostics.
 */
@NullMarked
package dev.pals.spring.autoconfigure;

import org.jspecify.annotations.NullMarked;
