import runtime.Request
import runtime.Response

private fun innerHelper() {
    throw IllegalStateException("boom from user code")
}

@Suppress("UNUSED_PARAMETER")
fun throws(req: Request, res: Response) {
    innerHelper()
    res.send("unreachable")
}
