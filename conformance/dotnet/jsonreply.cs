using Runtime;

class JsonReply
{
    // An async Main: its Task is awaited before the reply.
    public async Task Main(Request req, Response res)
    {
        await Task.Yield();
        res.Json(new { nested = new { list = new object[] { 1, 2.5, "three", true, null }, unicode = "✓" }, payload = req.Payload }, 202);
    }
}
