using Runtime;

class Seed
{
    public void Main(Request req, Response res)
    {
        res.Json(new { normal = "Hello World!", env1 = req.Env.GetValueOrDefault("ENV1"), payload = req.Payload });
    }
}
