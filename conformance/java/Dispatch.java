import java.nio.file.Path;
import runtime.Request;
import runtime.Response;

/**
 * Test-only entry class: one runtime serves every case function, picked by the base name of the request's
 * file (seed.java -> Seed). The conformance kit names a file per case; a real runtime has one main.
 */
public class Dispatch {
    private final Counter counter = new Counter(); // made once, like the entry class itself

    public void main(Request req, Response res) throws Exception {
        String name = Path.of(req.file).getFileName().toString().split("\\.")[0];
        switch (name) {
            case "seed" -> new Seed().main(req, res);
            case "send" -> new Send().main(req, res);
            case "jsonreply" -> new JsonReply().main(req, res);
            case "echo" -> new Echo().main(req, res);
            case "throws" -> new Throws().main(req, res);
            case "noisy" -> new Noisy().main(req, res);
            case "slow" -> new Slow().main(req, res);
            case "noreply" -> new NoReply().main(req, res);
            case "crash" -> new Crash().main(req, res);
            case "counter" -> counter.main(req, res);
            default -> res.notFound(req.path + "/" + req.file + ": this runtime has no function for that file");
        }
    }
}
