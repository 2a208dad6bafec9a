using Runtime;

class Slow
{
    public async Task Main(Request req, Response res)
    {
        await Task.Delay(TimeSpan.FromSeconds(double.TryParse(req.Payload, out var s) ? s : 30));
        res.Send("woke");
    }
}
