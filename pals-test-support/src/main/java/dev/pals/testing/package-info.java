/**
 * Test support shared by every module: one real PostgreSQL server per test JVM, and the check that
 * a module's public API is the one checked in ({@link dev.pals.testing.ApiSurface}).
 */
@NullMarked
package dev.pals.testing;

import org.jspecify.annotations.NullMarked;
