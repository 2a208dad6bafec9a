import runtime.Request
import runtime.Response

// Compiles, but the function has the wrong name: the dispatcher knows no main here and answers 404.
@Suppress("UNUSED_PARAMETER")
fun handler(req: Request, res: Response) {
    res.send("never called")
}
