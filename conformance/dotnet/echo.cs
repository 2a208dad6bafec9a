using Runtime;

class Echo
{
    public void Main(Request req, Response res) => res.Json(new { env = req.Env, payload = req.Payload, headers = req.Headers });
}
