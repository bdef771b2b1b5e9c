/**
 * Test support shared by every module: one real PostgreSQL server per test JVM.
 */
@NullMarked
package dev.pals.testing;

import org.jspecify.annotations.NullMarked;
