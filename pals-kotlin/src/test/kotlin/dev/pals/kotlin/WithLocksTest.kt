package dev.pals.kotlin

import dev.pals.AcquireFailureException
import java.time.Duration
import java.util.concurrent.atomic.AtomicBoolean
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.assertj.core.api.Assertions.assertThat
import org.awaitility.Awaitility.await
import org.junit.jupiter.api.Test

/** `withLocks` on the real server: every name held across suspensions, all or nothing. */
class WithLocksTest : CoroutineLockTestSupport() {

    private val accounts = listOf("account:a", "account:b")

    @Test
    fun everyNameIsInPgLocksAcrossADelayInsideTheBlockAndNoneAfterIt() = runTest {
        val keys = registry.locks(accounts).keys()
        val seen =
            registry.withLocks(accounts) {
                delay(200)
                keys.map { grantedOnServer(it) }
            }
        assertThat(seen).containsExactly(1, 1)
        assertThat(keys.map { grantedOnServer(it) }).containsExactly(0, 0)
    }

    @Test
    fun contendedSecondNameThrowsContendedSkipsTheBlockAndLeavesTheFirstFree() = runTest {
        val keys = registry.locks(accounts).keys()
        val second = registry.locks(accounts).names()[1]
        otherService.lock(second).hold().use {
            val ran = AtomicBoolean()
            val failure = runCatching { registry.withLocks(accounts, timeout = Duration.ZERO) { ran.set(true) } }
            assertThat(failure.exceptionOrNull()).isInstanceOfSatisfying(AcquireFailureException::class.java) {
                assertThat(it.reason()).isEqualTo(AcquireFailureException.Reason.CONTENDED)
            }
            assertThat(ran).isFalse()
            assertThat(grantedOnServer(keys[0])).isZero()
        }
    }

    @Test
    fun cancelledWhileWaitingForTheSecondNameCancelsTheServerWaitAndGivesBackTheFirst() = runTest {
        val keys = registry.locks(accounts).keys()
        val second = registry.locks(accounts).names()[1]
        otherService.lock(second).hold().use {
            val waiting = launch(Dispatchers.Default) {
                registry.withLocks(accounts, timeout = Duration.ofSeconds(20)) { error("must not run") }
            }
            withContext(Dispatchers.IO) { awaitServerWaiter(keys[1]) }
            waiting.cancelAndJoin()
            withContext(Dispatchers.IO) {
                await().atMost(Duration.ofSeconds(10)).until { grantedOnServer(keys[0]) == 0 && waitingOnServer(keys[1]) == 0 }
            }
        }
    }

    @Test
    fun aSecondCallerWaitsForTheWholeSetAndRunsOnceTheFirstEnds() = runTest {
        val firstHolds = CompletableDeferred<Unit>()
        val firstMayEnd = CompletableDeferred<Unit>()
        val first = launch { registry.withLocks(accounts) { firstHolds.complete(Unit); firstMayEnd.await() } }
        firstHolds.await()
        val second = async { otherService.withLocks(accounts.reversed(), timeout = Duration.ofSeconds(20)) { "ran" } }
        firstMayEnd.complete(Unit)
        assertThat(second.await()).isEqualTo("ran")
        first.join()
    }
}
