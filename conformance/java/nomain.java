import runtime.Request;
import runtime.Response;

// Compiles, but the method has the wrong name: the dispatcher knows no main here and answers 404.
class NoMain {
    public void handler(Request req, Response res) {
        res.send("never called");
    }
}
