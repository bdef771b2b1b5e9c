/**
 * Actuator support for PALs: the {@code advisorylocks} endpoint (this instance's locks and the
 * cluster's, from {@code pg_locks}) and the health of the lock database.
 */
@NullMarked
package dev.pals.spring.actuate;

import org.jspecify.annotations.NullMarked;
