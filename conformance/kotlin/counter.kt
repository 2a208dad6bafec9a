import runtime.Request
import runtime.Response

private var count = 0 // lives as long as the runtime process

@Suppress("UNUSED_PARAMETER")
fun counter(req: Request, res: Response) {
    res.json(mapOf("count" to ++count))
}
