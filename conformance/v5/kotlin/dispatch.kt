// Test-only entry file. A compiled runtime loads the one file class it was built with, so this main stands in
// for loading the entry file the shim names (Context.entrypoint()): main.kt runs its function (cases.main), and
// the others are loaded here as the adapter would load them (noexport.kt: a file with no main, throwsatload.kt:
// one whose initializer throws; any other name is a missing file). A real runtime has one entry file.
import runtime.Context
import runtime.LoadFailure
import runtime.RuntimeOutput

fun main(context: Context): RuntimeOutput? {
    val entry = Context.entrypoint()
    when (entry.substringBefore('.')) {
        "main" -> return cases.main(context)
        "noexport" -> {
            try {
                Class.forName("NoexportKt").getDeclaredMethod("main", Context::class.java)
            } catch (e: NoSuchMethodException) {
                throw LoadFailure("Function signature invalid. Did you forget to export a 'main' function?")
            }
            throw IllegalStateException("noexport.kt has a main")
        }
        "throwsatload" -> {
            try {
                Class.forName("ThrowsatloadKt")
            } catch (e: ExceptionInInitializerError) {
                throw LoadFailure(e.cause.toString(), e.cause)
            }
            throw IllegalStateException("throwsatload.kt loaded")
        }
        else -> throw LoadFailure("Failed to load entrypoint, file $entry does not exist.")
    }
}
