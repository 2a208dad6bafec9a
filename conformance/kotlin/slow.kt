import runtime.Request
import runtime.Response

fun slow(req: Request, res: Response) {
    Thread.sleep(((req.payload.toDoubleOrNull() ?: 30.0) * 1000).toLong())
    res.send("woke")
}
