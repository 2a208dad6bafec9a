using Runtime;

// Test-only entry class: one runtime serves every case function, picked by the base name of the request's
// file (seed.cs -> Seed). The conformance kit names a file per case; a real runtime has one Main.
class Dispatch
{
    readonly Counter counter = new(); // made once, like the entry class itself

    public async Task Main(Request req, Response res)
    {
        switch (System.IO.Path.GetFileName(req.File).Split('.')[0])
        {
            case "seed": new Seed().Main(req, res); break;
            case "send": new Send().Main(req, res); break;
            case "jsonreply": await new JsonReply().Main(req, res); break;
            case "echo": new Echo().Main(req, res); break;
            case "throws": new Throws().Main(req, res); break;
            case "noisy": new Noisy().Main(req, res); break;
            case "slow": await new Slow().Main(req, res); break;
            case "noreply": new NoReply().Main(req, res); break;
            case "crash": new Crash().Main(req, res); break;
            case "counter": counter.Main(req, res); break;
            default: res.NotFound($"{req.Path}/{req.File}: this runtime has no function for that file"); break;
        }
    }
}
