package dev.pals.kotlin

import dev.pals.AcquireFailureException
import dev.pals.AdvisoryLockSet
import dev.pals.LockOptions
import dev.pals.LockRegistry
import java.time.Duration
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.future.await
import kotlinx.coroutines.withContext

/**
 * Runs [block] holding every lock of [names] of this registry, taken all or nothing as one
 * [AdvisoryLockSet] ([LockRegistry.locks]: in one global key order, so that two overlapping sets
 * never deadlock), and releases them all exactly once however the block ends: completion, failure
 * or cancellation. The locks stay held across the block's suspensions; neither the acquisition
 * (on a registry thread, [AdvisoryLockSet.acquireAsync]) nor the release blocks the coroutine's
 * thread.
 *
 * ```
 * registry.withLocks(listOf("account:$from", "account:$to")) {
 *     transfer(from, to, amount)
 * }
 * ```
 *
 * **Contention and timeout.** Waits at most [timeout] for the whole set; `null` (the default) takes
 * the wait of [options], or the registry's default where they set none. If the set was not
 * obtained, throws [AcquireFailureException] of reason CONTENDED (no wait) or TIMED_OUT, holding
 * none of the locks, and [block] does not run.
 *
 * **Cancellation.** Cancelled while waiting, the server wait is cancelled and the locks already
 * taken are given back; cancelled while [block] runs, every lock is released once the block has
 * ended. Either way [CancellationException] is thrown.
 *
 * @return what [block] returned
 * @throws AcquireFailureException if the set was not obtained; [block] did not run
 * @throws dev.pals.LockLostException if a lock was lost while [block] ran (added as suppressed when
 *   the block threw); the others are released
 * @throws IllegalArgumentException if there are no names, one is blank, or the timeout is negative
 *   or too long
 */
public suspend fun <T> LockRegistry.withLocks(
    names: Collection<String>,
    options: LockOptions = LockOptions.exclusive(),
    timeout: Duration? = null,
    block: suspend () -> T,
): T {
    val set = locks(names, options)
    val wait = timeout ?: if (set.isBlocking) set.timeout() else Duration.ZERO
    val acquisition = set.acquireAsync(wait)
    val acquired =
        try {
            acquisition.await()
        } catch (cancelled: CancellationException) {
            // as acquireSuspending: a grant that completed the future before the cancel is given back here
            acquisition.cancel(false)
            if (!acquisition.isCompletedExceptionally && acquisition.getNow(false)) {
                set.releaseKeeping(cancelled)
            }
            throw cancelled
        }
    if (!acquired) {
        throw AcquireFailureException(
            set.names().toString(),
            set.mode(),
            if (wait.isZero) AcquireFailureException.Reason.CONTENDED else AcquireFailureException.Reason.TIMED_OUT,
            if (wait.isZero) "nothing of the set is held" else "waited $wait; nothing of the set is held",
            null,
        )
    }
    val result =
        try {
            block()
        } catch (failure: Throwable) {
            set.releaseKeeping(failure)
            throw failure
        }
    set.releaseSuspending()
    return result
}

/** Releases every member on [Dispatchers.IO], to its end even if the coroutine is cancelled meanwhile. */
private suspend fun AdvisoryLockSet.releaseSuspending(): Boolean =
    withContext(NonCancellable + Dispatchers.IO) { release() }

/** Releases after [failure], which stays the one thrown, as for a single lock. */
private suspend fun AdvisoryLockSet.releaseKeeping(failure: Throwable) {
    try {
        releaseSuspending()
    } catch (releaseFailure: Throwable) {
        if (releaseFailure !is CancellationException) {
            failure.addSuppressed(releaseFailure)
        }
    }
}
