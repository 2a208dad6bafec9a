import runtime.Request
import runtime.Response

fun send(req: Request, res: Response) {
    res.send("héllo wörld ✓ ${req.payload}", 201)
}
