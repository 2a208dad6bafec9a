using Runtime;

class Throws
{
    static void InnerHelper() => throw new InvalidOperationException("boom from user code");

    public void Main(Request req, Response res)
    {
        InnerHelper();
        res.Send("unreachable");
    }
}
