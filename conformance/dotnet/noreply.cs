using Runtime;

class NoReply
{
    public void Main(Request req, Response res)
    {
        // returns without res.Send() or res.Json()
    }
}
