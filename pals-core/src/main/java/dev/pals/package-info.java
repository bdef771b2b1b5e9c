/**
 * Distributed application-level locks on PostgreSQL advisory locks.
 *
 * <p>Start with {@link dev.pals.LockRegistry}: it hands out {@link dev.pals.AdvisoryLock} handles
 * that acquire with or without waiting, in exclusive or shared mode, and release on scope exit
 * through {@link dev.pals.HeldLock}. Many held locks share a few connections; waits happen in
 * the server; a lock whose connection dies is reported lost, never silently.
 */
@NullMarked
package dev.pals;

import org.jspecify.annotations.NullMarked;
