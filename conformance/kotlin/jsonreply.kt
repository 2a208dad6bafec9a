import runtime.Request
import runtime.Response

fun jsonReply(req: Request, res: Response) {
    res.json(mapOf("nested" to mapOf("list" to listOf(1, 2.5, "three", true, null), "unicode" to "✓"), "payload" to req.payload), 202)
}
