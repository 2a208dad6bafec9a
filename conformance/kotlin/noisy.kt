import java.io.FileOutputStream
import runtime.Request
import runtime.Response

fun noisy(req: Request, res: Response) {
    val p = req.payload
    println("noisy-stdout $p")
    System.err.println("noisy-stderr $p")
    // The child inherits the runtime's stdio; the payload goes in as $1, not spliced into the script.
    ProcessBuilder("sh", "-c", "echo noisy-child \"\$1\"; echo noisy-child-err \"\$1\" >&2", "sh", p)
        .inheritIO().start().waitFor()
    FileOutputStream("/proc/self/fd/1", true).use { it.write("noisy-fd1 $p\n".toByteArray()) }
    res.send("quiet $p")
}
