using Runtime;

// Compiles, but the method has the wrong name: the dispatcher knows no Main here and answers 404.
class NoMain
{
    public void Handler(Request req, Response res) => res.Send("never called");
}
