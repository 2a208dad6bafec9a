import runtime.Request
import runtime.Response

fun echo(req: Request, res: Response) {
    res.json(mapOf("env" to req.env, "payload" to req.payload, "headers" to req.headers))
}
