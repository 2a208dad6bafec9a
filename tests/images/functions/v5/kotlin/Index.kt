// The v5 image test's kotlin function (tests/images/v5.sh): proves the install command ran in the build folder
// before the compile (v5dep.kt, which it writes, is compiled in) and the v5 context API.
import runtime.Context
import runtime.RuntimeOutput

fun main(context: Context): RuntimeOutput? {
    context.log("kotlin function log", mapOf("n" to 1))
    context.error("kotlin function error line")
    println("kotlin native print")
    val req = context.req
    return context.res.json(mapOf(
        "runtime" to "kotlin",
        "method" to req.method,
        "path" to req.path,
        "query" to req.query,
        "body" to req.body,
        "built" to V5_BUILT,
        "dependency" to V5_DEPENDENCY
    ), 201, mapOf("x-v5-test" to "yes"))
}
