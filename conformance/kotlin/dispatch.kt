// Test-only entry file: one runtime serves every case function, picked by the base name of the request's
// file (seed.kt -> seed). The conformance kit names a file per case; a real runtime has one main.
import java.io.File
import runtime.Request
import runtime.Response

fun main(req: Request, res: Response) {
    when (File(req.file).name.substringBefore('.')) {
        "seed" -> seed(req, res)
        "send" -> send(req, res)
        "jsonreply" -> jsonReply(req, res)
        "echo" -> echo(req, res)
        "throws" -> throws(req, res)
        "noisy" -> noisy(req, res)
        "slow" -> slow(req, res)
        "noreply" -> noReply(req, res)
        "crash" -> crash(req, res)
        "counter" -> counter(req, res)
        else -> res.notFound("${req.path}/${req.file}: this runtime has no function for that file")
    }
}
