import java.util.Map;
import runtime.Request;
import runtime.Response;

class Echo {
    public void main(Request req, Response res) {
        res.json(Map.of("env", req.env, "payload", req.payload, "headers", req.headers));
    }
}
