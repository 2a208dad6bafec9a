using Runtime;

class Send
{
    public void Main(Request req, Response res) => res.Send($"héllo wörld ✓ {req.Payload}", 201);
}
