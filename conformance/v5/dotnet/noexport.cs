// What loading noexport.cs does: its class prints while it initializes, and it has no Main.
static class NoExport
{
    static NoExport()
    {
        Console.WriteLine("Hello World");
    }

    public static void Load() { }
}
