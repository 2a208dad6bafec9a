import java.util.Map;
import runtime.Request;
import runtime.Response;

class Counter {
    private int count; // the instance lives as long as the runtime process

    public void main(Request req, Response res) {
        res.json(Map.of("count", ++count));
    }
}
