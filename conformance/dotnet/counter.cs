using Runtime;

class Counter
{
    int count; // the instance lives as long as the runtime process

    public void Main(Request req, Response res) => res.Json(new { count = ++count });
}
