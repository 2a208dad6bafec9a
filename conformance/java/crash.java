import runtime.Request;
import runtime.Response;

class Crash {
    public void main(Request req, Response res) {
        System.exit(3);
    }
}
