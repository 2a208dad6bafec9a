import java.util.Arrays;
import java.util.Map;
import runtime.Request;
import runtime.Response;

class JsonReply {
    record Reply(Map<String, Object> nested, String payload) {}

    public void main(Request req, Response res) {
        var list = Arrays.asList(1, 2.5, "three", true, null);
        res.json(new Reply(Map.of("list", list, "unicode", "✓"), req.payload), 202);
    }
}
