import runtime.Request
import runtime.Response

@Suppress("UNUSED_PARAMETER")
fun noReply(req: Request, res: Response) {
    // returns without res.send() or res.json()
}
