// What loading throwsatload.cs does: its class throws while it initializes.
static class ThrowsAtLoad
{
    static readonly int Value = Fail();

    static int Fail() => throw new Exception("Load failure");

    public static void Load() { }
}
