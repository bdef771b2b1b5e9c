package dev.pals.kotlin

import dev.pals.LockRegistry
import java.util.concurrent.atomic.AtomicBoolean
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.assertj.core.api.Assertions.assertThat
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
            assertThat(waitingOnServer(lock.key())).`as`("the wait cancelled in the server").isZero()
        }
        // and after the holder let go, the cancelled coroutine has nothing either
        assertThat(ran).isFalse()
        assertThat(lock.isHeld).isFalse()
        assertThat(registry.waitingLocks()).isZero()
        assertThat(grantedOnServer(lock.key())).isZero()
    }
}
