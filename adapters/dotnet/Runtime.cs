// runtime-shim adapter library for .NET 6+ (C#, Linux/glibc): serves the entry class's Main(Request req,
// Response res) over adapter protocol 1 (docs/adapter-protocol.md), persistently, one request at a time.
// Base class library only; requests come in the `json` encoding. runtimes/dotnet-*/build.sh compiles it with
// the user's code; the program starts in Runtime.Adapter.Main.
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace Runtime;

/// <summary>One execution's input. Path and File are what the executor named: a compiled runtime serves the same
/// function for any, so only a router (like the conformance dispatcher) looks at them.</summary>
public sealed class Request
{
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
    public string Payload { get; init; } = "";
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();
    public string Path { get; init; } = "";
    public string File { get; init; } = "";
    public long TimeoutMs { get; init; }
    public long DeadlineMs { get; init; }
}

/// <summary>The reply: the last Send or Json before Main returns (or its Task completes) wins.</summary>
public sealed class Response
{
    internal string Head; // "RES <status> <type>" or "ERR 404"
    internal byte[] Body = Array.Empty<byte>();

    static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>text as text/plain; charset=utf-8. A status outside 200..599 throws at your call.</summary>
    public void Send(string text, int status = 200)
    {
        Head = $"RES {Checked(status)} text";
        Body = Encoding.UTF8.GetBytes(text);
    }

    /// <summary>The JSON of value (System.Text.Json: anonymous objects, dictionaries, lists, records…).</summary>
    public void Json(object value, int status = 200)
    {
        Head = $"RES {Checked(status)} json";
        Body = JsonSerializer.SerializeToUtf8Bytes(value, value?.GetType() ?? typeof(object), Options);
    }

    /// <summary>Answers as the shim's "not found" (404), for a function that routes on req.File.</summary>
    public void NotFound(string message)
    {
        Head = "ERR 404";
        Body = Encoding.UTF8.GetBytes(message);
    }

    static int Checked(int status) =>
        status is >= 200 and <= 599 ? status : throw new ArgumentOutOfRangeException(nameof(status), status, "status must be from 200 to 599");
}

public static class Adapter
{
    const int HeaderMax = 256;
    const int F_DUPFD_CLOEXEC = 1030, O_RDONLY = 0;

    [DllImport("libc.so.6", SetLastError = true)] static extern int fcntl(int fd, int cmd, int arg);
    [DllImport("libc.so.6", SetLastError = true)] static extern int dup2(int oldFd, int newFd);
    [DllImport("libc.so.6", SetLastError = true)] static extern int open(string path, int flags);
    [DllImport("libc.so.6", SetLastError = true)] static extern int close(int fd);

    static void Fatal(string message)
    {
        Console.Error.WriteLine("dotnet adapter: " + message);
        Environment.Exit(2);
    }

    /// <summary>"REQ &lt;id&gt; &lt;N&gt;\n" and the body; null on EOF between frames.</summary>
    static (string, byte[])? ReadRequest(Stream input)
    {
        var line = new List<byte>();
        for (int c; (c = input.ReadByte()) != '\n'; line.Add((byte)c))
        {
            if (c < 0)
            {
                if (line.Count == 0) return null;
                Fatal("input ended inside a request header");
            }
            if (line.Count >= HeaderMax - 1) Fatal($"a request header is longer than {HeaderMax} bytes");
        }
        var t = Encoding.ASCII.GetString(line.ToArray()).Split(' ');
        if (t.Length < 3 || t[0] != "REQ" || !System.Text.RegularExpressions.Regex.IsMatch(t[1], "^[A-Za-z0-9._-]{1,64}$")
            || !System.Text.RegularExpressions.Regex.IsMatch(t[^1], "^(0|[1-9][0-9]{0,8})$"))
            Fatal("bad request header: " + string.Join(' ', t));
        var body = new byte[int.Parse(t[^1])];
        for (int got = 0, n; got < body.Length; got += n)
            if ((n = input.Read(body, got, body.Length - got)) <= 0) Fatal("input ended inside a request body");
        return (t[1], body);
    }

    static Request Decode(byte[] body)
    {
        using var doc = JsonDocument.Parse(body);
        var m = doc.RootElement;
        string Str(string name) => m.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : "";
        long Num(string name) => m.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;
        Dictionary<string, string> Map(string name) => m.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object
            ? v.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "") : new();
        return new Request { Env = Map("env"), Payload = Str("payload"), Headers = Map("headers"), Path = Str("path"),
            File = Str("file"), TimeoutMs = Num("timeout_ms"), DeadlineMs = Num("deadline_ms") };
    }

    static void WriteFrame(Stream output, string head, byte[] body)
    {
        output.Write(Encoding.ASCII.GetBytes($"{head} {body.Length}\n"));
        output.Write(body);
        output.Flush();
    }

    /// <summary>The exception as .NET prints it, without the frames of reflection and this adapter.</summary>
    static string Describe(Exception error) => string.Join('\n', error.ToString().Split('\n')
        .Where(l => !l.Contains(" System.Reflection.") && !l.Contains(" System.RuntimeMethodHandle.") && !l.Contains(" Runtime.Adapter.")));

    public static int Main()
    {
        // The protocol owns fds 0 and 1: keep private copies (closed in children), then point fd 1 at stderr and
        // fd 0 at /dev/null, before anything touches Console: Console.Out, native code and child processes
        // can neither write nor read a frame.
        int protoIn = fcntl(0, F_DUPFD_CLOEXEC, 3), protoOut = fcntl(1, F_DUPFD_CLOEXEC, 3), devNull = open("/dev/null", O_RDONLY);
        if (protoIn < 0 || protoOut < 0 || devNull < 0 || dup2(2, 1) < 0 || dup2(devNull, 0) < 0)
            Fatal("cannot move the protocol off fds 0 and 1");
        close(devNull);
        using var input = new BufferedStream(new FileStream(new SafeFileHandle((IntPtr)protoIn, true), FileAccess.Read, 1), 1 << 16);
        using var output = new FileStream(new SafeFileHandle((IntPtr)protoOut, true), FileAccess.Write, 1);

        // The entry class: the one named like the entry file (Index for index.cs), else any class, with a method
        // Main(Request, Response) returning void or Task; static, or called on one instance made at start.
        var candidates = Assembly.GetEntryAssembly()!.GetTypes()
            .Select(t => (t, m: t.GetMethod("Main", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance,
                new[] { typeof(Request), typeof(Response) })))
            .Where(c => c.m != null && c.t != typeof(Adapter))
            .OrderBy(c => string.Equals(c.t.Name, EntryFile.Name, StringComparison.OrdinalIgnoreCase) ? 0 : 1).ToList();
        var main = candidates.FirstOrDefault().m;
        var target = main == null || main.IsStatic ? null : Activator.CreateInstance(main.DeclaringType!, nonPublic: true);

        WriteFrame(output, "READY 1 json", Encoding.UTF8.GetBytes("dotnet " + Environment.Version));
        while (ReadRequest(input) is (string id, byte[] body))
        {
            var req = Decode(body);
            var res = new Response();
            string failure = null;
            if (main == null)
                res.NotFound($"{EntryFile.Name}: no class has a method Main(Request req, Response res)");
            else
                try
                {
                    if (main.Invoke(target, new object[] { req, res }) is Task task) task.GetAwaiter().GetResult();
                }
                catch (TargetInvocationException e) { failure = Describe(e.InnerException ?? e); }
                catch (Exception e) { failure = Describe(e); }
            Console.Out.Flush(); // what the request printed is logged before its reply
            if (failure != null) WriteFrame(output, $"ERR {id} 500", Encoding.UTF8.GetBytes(failure));
            else if (res.Head == null)
                WriteFrame(output, $"ERR {id} 500", Encoding.UTF8.GetBytes("Main(req, res) returned without calling res.Send() or res.Json()"));
            else
            {
                var parts = res.Head.Split(' ', 2);
                WriteFrame(output, $"{parts[0]} {id} {parts[1]}", res.Body);
            }
        }
        return 0;
    }
}
