import runtime.Request
import runtime.Response

fun seed(req: Request, res: Response) {
    res.json(mapOf("normal" to "Hello World!", "env1" to req.env["ENV1"], "payload" to req.payload))
}
