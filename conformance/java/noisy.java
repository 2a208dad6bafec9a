import java.io.FileOutputStream;
import java.io.IOException;
import runtime.Request;
import runtime.Response;

class Noisy {
    public void main(Request req, Response res) throws IOException, InterruptedException {
        String p = req.payload;
        System.out.println("noisy-stdout " + p);
        System.err.println("noisy-stderr " + p);
        // The child inherits the runtime's stdio; the payload goes in as $1, not spliced into the script.
        new ProcessBuilder("sh", "-c", "echo noisy-child \"$1\"; echo noisy-child-err \"$1\" >&2", "sh", p)
                .inheritIO().start().waitFor();
        try (FileOutputStream fd1 = new FileOutputStream("/proc/self/fd/1", true)) {
            fd1.write(("noisy-fd1 " + p + "\n").getBytes());
        }
        res.send("quiet " + p);
    }
}
