import runtime.Request;
import runtime.Response;

class Throws {
    private static void innerHelper() {
        throw new IllegalStateException("boom from user code");
    }

    public void main(Request req, Response res) {
        innerHelper();
        res.send("unreachable");
    }
}
