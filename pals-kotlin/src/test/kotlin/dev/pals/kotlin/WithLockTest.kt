package dev.pals.kotlin

import dev.pals.AcquireFailureException
import dev.pals.LockOptions
import java.time.Duration
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.coroutines.CoroutineContext
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import org.assertj.core.api.Assertions.assertThat
import org.assertj.core.api.Assertions.assertThatThrownBy
import org.junit.jupiter.api.Test

/** `withLock` and `tryWithLock` on the real server: held across suspensions, excluding other services. */
class WithLockTest : CoroutineLockTestSupport() {

    @Test
    fun lockIsInPgLocksAcrossADelayInsideTheBlock() = runTest {
        val key = registry.lock("report").key()
        val seenDuringTheBlock =
            registry.withLock("report") {
                delay(200)
                // after the suspension: still granted on the server, and another service cannot take it
                Pair(grantedOnServer(key), otherService.lock("report").tryAcquire())
            }
        assertThat(seenDuringTheBlock).isEqualTo(Pair(1, false))
        assertThat(grantedOnServer(key)).isZero()
    }

    @Test
    fun secondCoroutineWaitsInTheServerUntilTheFirstReleases() = runTest {
        val key = registry.lock("job").key()
        val firstHolds = CompletableDeferred<Unit>()
        val firstMayEnd = CompletableDeferred<Unit>()
        val first = launch {
            registry.withLock("job") {
                firstHolds.complete(Unit)
                firstMayEnd.await()
            }
        }
        firstHolds.await()
        val second = async { otherService.withLock("job", timeout = Duration.ofSeconds(20)) { grantedOnServer(key) } }
        withContext(Dispatchers.IO) { awaitServerWaiter(key) }
        assertThat(second.isActive).`as`("second coroutine still waiting").isTrue()
        firstMayEnd.complete(Unit)
        assertThat(second.await()).isEqualTo(1)
        first.join()
        assertThat(grantedOnServer(key)).isZero()
    }

    @Test
    fun contendedWithLockWithoutWaitThrowsContendedAndSkipsTheBlock() = runTest {
        otherService.lock("nightly").hold().use {
            val ran = AtomicBoolean()
            val failure = runCatching { registry.withLock("nightly", timeout = Duration.ZERO) { ran.set(true) } }
            assertThat(failure.exceptionOrNull())
                .isInstanceOfSatisfying(AcquireFailureException::class.java) {
                    assertThat(it.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED)
                }
            assertThat(ran).isFalse()
        }
    }

    @Test
    fun withLockWithoutWaitTakesAFreeLockEveryTime() = runTest {
        // the core's acquireAsync(ZERO) expires before a registry thread takes it, nearly always: 20 tries show it
        val taken = (1..20).count { registry.tryWithLock("free-$it", timeout = Duration.ZERO) { true } ?: false }
        assertThat(taken).isEqualTo(20)
    }

    @Test
    fun withLockThatWaitedItsTimeoutThrowsTimedOut() = runTest {
        otherService.lock("nightly").hold().use {
            val failure = runCatching { registry.withLock("nightly", timeout = Duration.ofMillis(200)) {} }
            assertThat(failure.exceptionOrNull())
                .isInstanceOfSatisfying(AcquireFailureException::class.java) {
                    assertThat(it.reason()).isEqualTo(AcquireFailureException.Reason.TIMED_OUT)
                }
        }
    }

    @Test
    fun tryWithLockReturnsNullWithoutRunningTheBlockUnderContention() = runTest {
        otherService.lock("cleanup").hold().use {
            assertThat(registry.tryWithLock("cleanup") { "ran" }).isNull()
        }
        assertThat(registry.tryWithLock("cleanup") { "ran" }).isEqualTo("ran")
    }

    @Test
    fun failingBlockReleasesTheLockAndKeepsItsException() = runTest {
        val key = registry.lock("import").key()
        val failure = runCatching { registry.withLock<Unit>("import") { delay(50); error("import failed") } }
        assertThat(failure.exceptionOrNull()).isInstanceOf(IllegalStateException::class.java).hasMessage("import failed")
        assertThat(grantedOnServer(key)).isZero()
    }

    @Test
    fun sharedLocksOfTwoServicesAreHeldTogether() = runTest {
        val both =
            registry.withLock("catalog", LockOptions.shared()) {
                otherService.withLock("catalog", LockOptions.shared(), Duration.ZERO) {
                    grantedOnServer(registry.lock("catalog").key())
                }
            }
        assertThat(both).isEqualTo(2)
    }

    @Test
    fun blockResumedOnAnotherThreadStillReleases() {
        val key = registry.lock("handover").key()
        val threads = mutableListOf<Thread>()
        kotlinx.coroutines.runBlocking(NewThreadEveryDispatch) {
            withTimeout(30_000) {
                registry.withLock("handover") {
                    threads += Thread.currentThread()
                    delay(50)
                    threads += Thread.currentThread()
                    assertThat(grantedOnServer(key)).isEqualTo(1)
                }
            }
        }
        assertThat(threads[1]).isNotSameAs(threads[0])
        assertThat(grantedOnServer(key)).isZero()
        assertThat(otherService.lock("handover").tryAcquire()).isTrue()
        otherService.lock("handover").release()
    }

    @Test
    fun waitingForTheLockLeavesTheCoroutinesThreadFree() {
        Executors.newSingleThreadExecutor().asCoroutineDispatcher().use { oneThread ->
            otherService.lock("queue").hold().use {
                kotlinx.coroutines.runBlocking(oneThread) {
                    // bounded: were the wait to block the only thread, it would end after this, and the check fail
                    val waiter = async { registry.tryWithLock("queue", timeout = Duration.ofSeconds(10)) { "got it" } }
                    withContext(Dispatchers.IO) { awaitServerWaiter(registry.lock("queue").key()) }
                    // back on the only thread of the dispatcher while the other coroutine still waits on it
                    assertThat(waiter.isActive).`as`("the waiting coroutine").isTrue()
                    waiter.cancel()
                }
            }
        }
    }

    /** Resumes every coroutine on a thread of its own, so that a block surely continues on another thread. */
    private object NewThreadEveryDispatch : CoroutineDispatcher() {
        override fun dispatch(context: CoroutineContext, block: Runnable) {
            Thread(block, "pals-test-resume").start()
        }
    }
}
