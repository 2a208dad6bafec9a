import kotlin.system.exitProcess
import runtime.Request
import runtime.Response

@Suppress("UNUSED_PARAMETER")
fun crash(req: Request, res: Response) {
    exitProcess(3)
}
