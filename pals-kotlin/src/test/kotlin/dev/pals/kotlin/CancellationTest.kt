package dev.pals.kotlin

import dev.pals.LockRegistry
import java.time.Duration
import java.util.concurrent.atomic.AtomicBoolean
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.yield
import org.assertj.core.api.Assertions.assertThat
import org.awaitility.Awaitility.await
import org.junit.jupiter.api.Test

/** Cancelling a coroutine that holds or waits for a lock leaves nothing held, on the real server. */
class CancellationTest : CoroutineLockTestSupport() {

    @Test
    fun cancellingTheBlockReleasesTheLock() = runTest {
        val lock = registry.lock("export")
        val holds = CompletableDeferred<Unit>()
        val holder = launch(Dispatchers.Default) {
            lock.withLock {
                holds.complete(Unit)
                awaitCancellation()
            }
        }
        holds.await()
        assertThat(grantedOnServer(lock.key())).isEqualTo(1)
        holder.cancelAndJoin()
        assertThat(lock.isHeld).isFalse()
        assertThat(grantedOnServer(lock.key())).isZero()
        assertThat(otherService.lock("export").tryAcquire()).`as`("another service takes it next").isTrue()
        otherService.lock("export").release()
    }

    @Test
    fun cancellingWhileWaitingLeavesNothingHeld() = runTest {
        val lock = registry.lock("migration")
        val ran = AtomicBoolean()
        otherService.lock("migration").hold().use {
            val waiter = launch(Dispatchers.Default) {
                lock.withLock(LockRegistry.FOREVER) { ran.set(true) }
            }
            withContext(Dispatchers.IO) { awaitServerWaiter(lock.key()) }
            waiter.cancelAndJoin()
            // the registry thread that waited is interrupted, and cancels the server wait on its own time
            withContext(Dispatchers.IO) {
                await().atMost(Duration.ofSeconds(5)).untilAsserted {
                    assertThat(waitingOnServer(lock.key())).`as`("the wait cancelled in the server").isZero()
                }
            }
        }
        // and after the holder let go, the cancelled coroutine has nothing either
        assertThat(ran).isFalse()
        assertThat(lock.isHeld).isFalse()
        assertThat(registry.waitingLocks()).isZero()
        assertThat(grantedOnServer(lock.key())).isZero()
    }

    @Test
    fun cancellingAsTheLockIsGrantedLeavesItHeldOnlyIfHandedOut() = runTest {
        val lock = registry.lock("race")
        // cancels land before, during and after the grant; whichever wins, the handle holds only what was handed out
        repeat(100) { attempt ->
            var handedOut = false
            val acquisition = launch(Dispatchers.Default) { handedOut = lock.acquireSuspending(Duration.ofSeconds(5)) }
            repeat(attempt % 40) { yield() }
            acquisition.cancelAndJoin()
            withContext(Dispatchers.IO) {
                // a grant the cancel beat is released by the registry thread, after the coroutine ended
                await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5)).atMost(Duration.ofSeconds(5))
                    .until { lock.holdCount() == (if (handedOut) 1 else 0) }
            }
            if (handedOut) {
                lock.release()
            }
        }
        assertThat(grantedOnServer(lock.key())).isZero()
    }
}
