package dev.pals.kotlin

import dev.pals.AcquireFailureException
import dev.pals.LockKey
import dev.pals.LockRegistry
import dev.pals.spring.AdvisoryLocked
import dev.pals.spring.aop.AdvisoryLockedAutoConfiguration
import dev.pals.spring.autoconfigure.PalsAutoConfiguration
import dev.pals.testing.TestDatabase
import java.time.Duration
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import org.assertj.core.api.Assertions.assertThat
import org.awaitility.Awaitility.await
import org.junit.jupiter.api.Test
import org.springframework.aop.support.AopUtils
import org.springframework.boot.autoconfigure.AutoConfigurations
import org.springframework.boot.autoconfigure.aop.AopAutoConfiguration
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration
import org.springframework.boot.test.context.assertj.AssertableApplicationContext
import org.springframework.boot.test.context.runner.ApplicationContextRunner

/**
 * `@AdvisoryLocked` on a Kotlin `suspend fun` and on a method returning a `Flow`, in a service started as
 * Spring Boot would start it, on the real server: the lock must stay held across the method's suspensions
 * (the Flow's: until its last element) and go when it ends or is cancelled. Before the interceptor
 * treated them as reactive, the lock was released when the function first suspended (a `Flow`: before it
 * was collected), and all five failed.
 */
class AdvisoryLockedCoroutinesTest {

    private val namespace = TestDatabase.uniqueName("kt-svc-")

    @Test
    fun suspendFunctionHoldsItsLockAcrossASuspension() = instance { context ->
        val jobs = context.getBean(CoroutineJobs::class.java)
        val key = keyOf(context, CoroutineJobs.SUSPENDING)
        val seenAfterTheDelay = CoroutineLockTestSupport.runBounded { jobs.suspending { grantedOnServer(key) } }
        assertThat(seenAfterTheDelay).`as`("the lock in pg_locks after the method's first suspension").isEqualTo(1)
        assertThat(grantedOnServer(key)).isZero()
    }

    @Test
    fun suspendFunctionExcludesTheOtherInstanceWhileSuspended() = instance { one ->
        instance { two ->
            CoroutineLockTestSupport.runTest {
                val inside = CompletableDeferred<Unit>()
                val mayEnd = CompletableDeferred<Unit>()
                val first = launch(Dispatchers.Default) {
                    one.getBean(CoroutineJobs::class.java).suspending { inside.complete(Unit); mayEnd.await() }
                }
                inside.await()
                val second = runCatching { two.getBean(CoroutineJobs::class.java).suspending { "ran" } }
                mayEnd.complete(Unit)
                first.join()
                assertThat(second.exceptionOrNull()).`as`("the other instance's call while the first is suspended")
                    .isInstanceOf(AcquireFailureException::class.java)
            }
        }
    }

    @Test
    fun cancellingASuspendFunctionReleasesItsLock() = instance { context ->
        val jobs = context.getBean(CoroutineJobs::class.java)
        val key = keyOf(context, CoroutineJobs.SUSPENDING)
        CoroutineLockTestSupport.runTest {
            val inside = CompletableDeferred<Unit>()
            val call = launch(Dispatchers.Default) { jobs.suspending<Unit> { inside.complete(Unit); awaitCancellation() } }
            inside.await()
            assertThat(grantedOnServer(key)).`as`("held while the method is suspended").isEqualTo(1)
            call.cancelAndJoin()
        }
        await().atMost(Duration.ofSeconds(5)).until { grantedOnServer(key) == 0 }
    }

    @Test
    fun flowHoldsItsLockUntilItsLastElement() = instance { context ->
        val jobs = context.getBean(CoroutineJobs::class.java)
        val key = keyOf(context, CoroutineJobs.FLOW)
        val seen = CoroutineLockTestSupport.runBounded { jobs.numbers { grantedOnServer(key) }.toList() }
        assertThat(seen).`as`("the lock in pg_locks as each element is emitted").containsExactly(1, 1)
        assertThat(grantedOnServer(key)).isZero()
    }

    @Test
    fun flowExcludesTheOtherInstanceWhileItIsCollected() = instance { one ->
        instance { two ->
            val seen =
                CoroutineLockTestSupport.runBounded {
                    one.getBean(CoroutineJobs::class.java).numbers {
                        // the other instance's whole Flow, collected while this one is between elements
                        runCatching { two.getBean(CoroutineJobs::class.java).numbers { 0 }.toList() }
                            .exceptionOrNull() is AcquireFailureException
                    }.toList()
                }
            assertThat(seen).`as`("whether the other instance's Flow failed to get the lock").containsOnly(true)
        }
    }

    @Test
    fun suspendFunctionOnTwoNamesHoldsBothAcrossASuspensionAndExcludesTheOtherInstance() = instance { one ->
        instance { two ->
            val keys = listOf(keyOf(one, "account:a"), keyOf(one, "account:b"))
            val seen =
                CoroutineLockTestSupport.runBounded {
                    one.getBean(CoroutineJobs::class.java).transfer("a", "b") {
                        val other = runCatching { two.getBean(CoroutineJobs::class.java).transfer("b", "a") { 0 } }
                        keys.map { grantedOnServer(it) } + (if (other.exceptionOrNull() is AcquireFailureException) 1 else 0)
                    }
                }
            assertThat(seen).`as`("both accounts in pg_locks after a suspension, and the other instance refused")
                .containsExactly(1, 1, 1)
            assertThat(keys.map { grantedOnServer(it) }).containsExactly(0, 0)
        }
    }

    /** Locked coroutine methods; open, as Spring proxies the class. */
    open class CoroutineJobs {

        /** Runs [inside] after a suspension, holding the lock, the other instance not waiting for it. */
        @AdvisoryLocked(name = SUSPENDING, blocking = false)
        open suspend fun <T> suspending(inside: suspend () -> T): T {
            delay(100)
            return inside()
        }

        /** Runs [inside] after a suspension, holding both accounts. */
        @AdvisoryLocked(names = ["'account:' + #from", "'account:' + #to"], blocking = false)
        open suspend fun <T> transfer(from: String, to: String, inside: suspend () -> T): T {
            delay(100)
            return inside()
        }

        /** Two elements, each from [each], with a suspension before each one. */
        @AdvisoryLocked(name = FLOW, blocking = false)
        open fun <T> numbers(each: suspend () -> T): Flow<T> = flow {
            repeat(2) {
                delay(50)
                emit(each())
            }
        }

        companion object {
            const val SUSPENDING = "coroutine-job"
            const val FLOW = "flow-job"
        }
    }

    private fun instance(body: (AssertableApplicationContext) -> Unit) {
        ApplicationContextRunner()
            .withConfiguration(
                AutoConfigurations.of(
                    DataSourceAutoConfiguration::class.java,
                    AopAutoConfiguration::class.java,
                    PalsAutoConfiguration::class.java,
                    AdvisoryLockedAutoConfiguration::class.java,
                ),
            )
            .withBean(CoroutineJobs::class.java)
            .withPropertyValues(
                "spring.lifecycle.timeout-per-shutdown-phase=1s",
                "spring.datasource.url=" + DB.url(),
                "spring.datasource.username=" + DB.user(),
                "spring.datasource.password=" + DB.password(),
                "spring.application.name=" + namespace,
            )
            .run { context ->
                assertThat(context).hasNotFailed()
                assertThat(AopUtils.isAopProxy(context.getBean(CoroutineJobs::class.java)))
                    .`as`("the locked methods' bean is advised").isTrue()
                body(context)
            }
    }

    private fun keyOf(context: AssertableApplicationContext, name: String): LockKey =
        context.getBean(LockRegistry::class.java).lock(name).key()

    private fun grantedOnServer(key: LockKey): Int = DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true)

    private companion object {
        val DB: TestDatabase = TestDatabase.get()
    }
}
