using System.Diagnostics;
using Runtime;

class Noisy
{
    public void Main(Request req, Response res)
    {
        var p = req.Payload;
        Console.WriteLine($"noisy-stdout {p}");
        Console.Error.WriteLine($"noisy-stderr {p}");
        // The child inherits the runtime's stdio; the payload goes in as $1, not spliced into the script.
        var child = new ProcessStartInfo("sh") { UseShellExecute = false };
        foreach (var a in new[] { "-c", "echo noisy-child \"$1\"; echo noisy-child-err \"$1\" >&2", "sh", p }) child.ArgumentList.Add(a);
        Process.Start(child)!.WaitForExit();
        using (var fd1 = new FileStream("/proc/self/fd/1", FileMode.Append, FileAccess.Write))
            fd1.Write(System.Text.Encoding.UTF8.GetBytes($"noisy-fd1 {p}\n"));
        res.Send($"quiet {p}");
    }
}
