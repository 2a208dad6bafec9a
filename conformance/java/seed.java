import java.util.HashMap;
import java.util.Map;
import runtime.Request;
import runtime.Response;

class Seed {
    public void main(Request req, Response res) {
        Map<String, Object> reply = new HashMap<>();
        reply.put("normal", "Hello World!");
        reply.put("env1", req.env.get("ENV1")); // null when not set
        reply.put("payload", req.payload);
        res.json(reply);
    }
}
