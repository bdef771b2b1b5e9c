package dev.pals.kotlin

import com.zaxxer.hikari.HikariDataSource
import dev.pals.LockKey
import dev.pals.LockRegistry
import dev.pals.testing.TestDatabase
import java.time.Duration
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.assertj.core.api.Assertions.assertThat
import org.awaitility.Awaitility.await
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach

/**
 * Each test gets its own namespace and pool, and two registries on it that contend in the server as two
 * services would; both are closed afterwards, and the pool's sessions must then hold nothing.
 */
abstract class CoroutineLockTestSupport {

    protected lateinit var dataSource: HikariDataSource
    protected lateinit var registry: LockRegistry
    /** Another service's registry on the same namespace: it contends in the server, not in the JVM. */
    protected lateinit var otherService: LockRegistry

    @BeforeEach
    fun openRegistries() {
        val namespace = TestDatabase.uniqueName("ns-")
        dataSource = DB.dataSource(10)
        registry = LockRegistry.builder(dataSource).namespace(namespace).build()
        otherService = LockRegistry.builder(dataSource).namespace(namespace).build()
    }

    @AfterEach
    fun closeRegistries() {
        otherService.close()
        registry.close()
        assertThat(advisoryLocksOfPool()).`as`("advisory locks left on the pool's sessions").isZero()
        dataSource.close()
    }

    /** Advisory locks on [key] granted to any session, seen by an observer outside every pool. */
    protected fun grantedOnServer(key: LockKey): Int =
        DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true)

    /** Sessions waiting in the server for [key]. */
    protected fun waitingOnServer(key: LockKey): Int =
        DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), false)

    protected fun awaitServerWaiter(key: LockKey) {
        await().atMost(Duration.ofSeconds(10)).until { waitingOnServer(key) > 0 }
    }

    private fun advisoryLocksOfPool(): Int =
        DB.connect().use { connection ->
            connection.prepareStatement(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid " +
                    "WHERE l.locktype = 'advisory' AND a.application_name = ?",
            ).use { statement ->
                statement.setString(1, dataSource.poolName)
                statement.executeQuery().use { rows ->
                    rows.next()
                    rows.getInt(1)
                }
            }
        }

    companion object {
        @JvmStatic
        protected val DB: TestDatabase = TestDatabase.get()

        /** A test's coroutines, bounded: a wait that never ends fails the test instead of hanging it. */
        fun runTest(block: suspend CoroutineScope.() -> Unit): Unit = runBounded(block)

        /** As [runTest], returning what [block] returns (a test function itself must return Unit to run). */
        fun <T> runBounded(block: suspend CoroutineScope.() -> T): T = runBlocking { withTimeout(30_000) { block() } }
    }
}
