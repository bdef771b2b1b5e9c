package dev.pals.kotlin

import dev.pals.AcquireFailureException
import dev.pals.AdvisoryLock
import dev.pals.LockLostException
import dev.pals.LockOptions
import dev.pals.LockRegistry
import java.time.Duration
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.future.await
import kotlinx.coroutines.withContext

/**
 * Runs [block] holding the lock [name] of this registry, in the mode of [options], and releases it
 * exactly once however the block ends: completion, failure or cancellation. The lock stays held across
 * the block's suspensions, whatever thread the block resumes on; neither the acquisition nor the release
 * blocks the coroutine's thread. A fresh handle takes the lock, so it excludes every other holder, in
 * this registry too.
 *
 * ```
 * registry.withLock("nightly-report") {
 *     delay(1000) // still held
 * }
 * ```
 *
 * **Contention and timeout.** Waits at most [timeout] for other holders to let go; `null` (the default)
 * takes the wait of [options], or the registry's default where they set none. If the lock was not
 * obtained, throws [AcquireFailureException] of reason CONTENDED (no wait) or TIMED_OUT, and [block]
 * does not run.
 *
 * **Cancellation.** Cancelled while waiting, the wait is cancelled in the server and nothing is held;
 * cancelled while [block] runs, the lock is released once the block has ended. Either way
 * [kotlinx.coroutines.CancellationException] is thrown.
 *
 * @return what [block] returned
 * @throws AcquireFailureException if the lock was not obtained; [block] did not run
 * @throws dev.pals.LockLostException if the lock was lost while [block] ran (added as suppressed when
 *   the block threw)
 * @throws IllegalArgumentException if the name is blank, or the timeout negative or too long
 */
public suspend fun <T> LockRegistry.withLock(
    name: String,
    options: LockOptions = LockOptions.exclusive(),
    timeout: Duration? = null,
    block: suspend () -> T,
): T {
    val lock = lock(name, options)
    return lock.withLock(timeout ?: lock.defaultWait(), block)
}

/**
 * As [withLock], but returns `null` instead of throwing when the lock was not obtained: [block] then
 * did not run. By default it does not wait for other holders (a zero [timeout]); with a timeout it
 * waits at most that long. Cancellation is as for [withLock].
 *
 * @return what [block] returned, or `null` if the lock was held by another holder for the whole wait
 * @throws dev.pals.LockLostException if the lock was lost while [block] ran
 */
public suspend fun <T : Any> LockRegistry.tryWithLock(
    name: String,
    options: LockOptions = LockOptions.exclusive(),
    timeout: Duration = Duration.ZERO,
    block: suspend () -> T,
): T? {
    val lock = lock(name, options)
    if (!lock.acquireSuspending(timeout)) {
        return null
    }
    return lock.runHolding(block)
}

/**
 * Acquires the lock without blocking the coroutine's thread: the wait runs on a registry thread
 * ([AdvisoryLock.acquireAsync]) while the coroutine is suspended. The handle, not a thread, then holds the lock, so the coroutine may resume on any thread
 * and release it there.
 *
 * **Contention and timeout.** Waits at most [timeout] for other holders to let go (by default the
 * handle's: [AdvisoryLock.timeout] when [AdvisoryLock.isBlocking], else no wait), then returns `false`;
 * [java.time.Duration.ZERO] only tries once, [dev.pals.LockRegistry.FOREVER] waits without limit.
 *
 * **Cancellation.** Cancelling the coroutine while it waits cancels the wait in the server and throws
 * [CancellationException]; nothing is held afterwards, even if the grant crossed the cancel.
 *
 * @return whether this handle now holds the lock; release it with [releaseSuspending] or
 *   [AdvisoryLock.release], or use [withLock], which does
 * @throws dev.pals.LockException if the server failed; nothing is then held
 * @throws IllegalStateException if the registry is closed or closing
 * @throws IllegalArgumentException if the timeout is negative or too long
 */
public suspend fun AdvisoryLock.acquireSuspending(timeout: Duration = defaultWait()): Boolean {
    val acquisition = acquireAsync(timeout)
    try {
        return acquisition.await()
    } catch (cancelled: CancellationException) {
        // await cancels the future on cancellation; a grant that completed it first was not cancelled, but is
        // not handed out either (the coroutine resumes with the cancellation), so it is released here
        acquisition.cancel(false)
        if (!acquisition.isCompletedExceptionally && acquisition.getNow(false)) {
            releaseKeeping(cancelled)
        }
        throw cancelled
    }
}

/**
 * Releases one hold, without blocking the coroutine's thread: the round trip to the server runs on
 * [Dispatchers.IO], and runs to its end even if the coroutine is cancelled meanwhile, so that a
 * cancelled coroutine never leaves the lock held. Never waits for other holders.
 *
 * @return `true` if this handle held the lock, `false` if it did not
 * @throws LockLostException if the lock was lost while held
 * @throws IllegalStateException if the registry is closed (its locks were released then)
 */
public suspend fun AdvisoryLock.releaseSuspending(): Boolean = withContext(NonCancellable + Dispatchers.IO) { release() }

/**
 * Runs [block] holding the lock, which stays held across the block's suspensions, whatever thread the
 * block resumes on, and is released exactly once however the block ends: completion, failure or
 * cancellation. Neither the acquisition nor the release blocks the coroutine's thread.
 *
 * **Contention and timeout.** Waits at most [timeout] (by default the handle's, as
 * [acquireSuspending]); if the lock was not obtained, throws [AcquireFailureException] of reason
 * CONTENDED (a zero timeout) or TIMED_OUT, and [block] does not run.
 *
 * **Cancellation.** Cancelled while waiting, the wait is cancelled and nothing is held; cancelled while
 * [block] runs, the lock is released once the block has ended. Either way [CancellationException] is
 * thrown.
 *
 * @return what [block] returned
 * @throws AcquireFailureException if the lock was not obtained; [block] did not run
 * @throws LockLostException if the lock was lost while [block] ran (added as suppressed when the
 *   block threw)
 */
public suspend fun <T> AdvisoryLock.withLock(timeout: Duration = defaultWait(), block: suspend () -> T): T {
    if (!acquireSuspending(timeout)) {
        throw notAcquired(timeout)
    }
    return runHolding(block)
}

/** Runs [block] on a hold this handle has just taken, and releases that hold once, however the block ends. */
private suspend fun <T> AdvisoryLock.runHolding(block: suspend () -> T): T {
    val result =
        try {
            block()
        } catch (failure: Throwable) {
            releaseKeeping(failure)
            throw failure
        }
    releaseSuspending()
    return result
}

/**
 * Releases after [failure], which stays the one thrown: a failure to release is added to it as
 * suppressed, unless it is only the cancellation the coroutine already has.
 */
private suspend fun AdvisoryLock.releaseKeeping(failure: Throwable) {
    try {
        releaseSuspending()
    } catch (releaseFailure: Throwable) {
        if (releaseFailure !is CancellationException) {
            failure.addSuppressed(releaseFailure)
        }
    }
}

/** What [AdvisoryLock.acquire] waits by default. */
private fun AdvisoryLock.defaultWait(): Duration = if (isBlocking) timeout() else Duration.ZERO

/** As the core's forms that must return holding: CONTENDED without a wait, TIMED_OUT after one. */
private fun AdvisoryLock.notAcquired(timeout: Duration): AcquireFailureException =
    if (timeout.isZero) {
        AcquireFailureException(name(), mode(), AcquireFailureException.Reason.CONTENDED, null, null)
    } else {
        AcquireFailureException(name(), mode(), AcquireFailureException.Reason.TIMED_OUT, "waited $timeout", null)
    }
