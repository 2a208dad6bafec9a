// The image test's entry file: the Kotlin runtime calls main(req, res); the seed function is conformance/kotlin/seed.kt.
import runtime.Request
import runtime.Response

fun main(req: Request, res: Response) = seed(req, res)
