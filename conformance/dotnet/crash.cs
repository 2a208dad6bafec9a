using Runtime;

class Crash
{
    public void Main(Request req, Response res) => Environment.Exit(3);
}
