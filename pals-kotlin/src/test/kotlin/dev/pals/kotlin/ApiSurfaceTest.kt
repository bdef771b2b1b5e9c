package dev.pals.kotlin

import dev.pals.testing.ApiSurface
import org.junit.jupiter.api.Test

/** The module's public API is the one in `api/pals-kotlin.txt`: it changes only when that file does. */
class ApiSurfaceTest {

    @Test
    fun publicApiIsTheCheckedInOne() {
        ApiSurface.check("pals-kotlin", Class.forName("dev.pals.kotlin.CoroutineLocksKt"))
    }
}
