import runtime.Request;
import runtime.Response;

class Send {
    public void main(Request req, Response res) {
        res.send("héllo wörld ✓ " + req.payload, 201);
    }
}
