import runtime.Request;
import runtime.Response;

class NoReply {
    public void main(Request req, Response res) {
        // returns without res.send() or res.json()
    }
}
