import runtime.Request;
import runtime.Response;

class Slow {
    public void main(Request req, Response res) throws InterruptedException {
        double seconds = req.payload.isEmpty() ? 30 : Double.parseDouble(req.payload);
        Thread.sleep((long) (seconds * 1000));
        res.send("woke");
    }
}
