/**
 * ShedLock on PostgreSQL advisory locks: {@link dev.pals.shedlock.AdvisoryLockProvider}, and its
 * auto-configuration for Spring Boot services that already have a {@link dev.pals.LockRegistry}.
 */
@NullMarked
package dev.pals.shedlock;

import org.jspecify.annotations.NullMarked;
