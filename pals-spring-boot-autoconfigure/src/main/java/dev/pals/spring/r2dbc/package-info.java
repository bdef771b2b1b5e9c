/**
 * TRANSACTION scope in reactive R2DBC transactions: {@code pg_advisory_xact_lock} on the connection
 * of the subscriber's current transaction, released by PostgreSQL when it commits or rolls back.
 * Optional: it needs spring-r2dbc, the R2DBC SPI and Reactor, and stays out of a service without them.
 */
@NullMarked
package dev.pals.spring.r2dbc;

import org.jspecify.annotations.NullMarked;
