// runtime-shim adapter library for .NET 6+ (C#, Linux/glibc): serves the entry class's Main(Request req,
// Response res) over adapter protocol 1 (the v1 contract), or its Main(Context context) over adapter protocol 2
// (the v5 contract) when SHIM_PROTOCOL is 2 (docs/adapter-protocol.md), persistently, one request at a time.
// Base class library only; requests come in the `json` encoding. runtimes/dotnet-*/build.sh compiles it with
// the user's code; the program starts in Runtime.Adapter.Main.
using System.Collections;
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

    static readonly object Frames = new(); // whole frames, whatever thread writes

    static void WriteFrame(Stream output, string head, byte[] body, byte[] meta = null)
    {
        lock (Frames)
        {
            output.Write(Encoding.ASCII.GetBytes($"{head} {(meta?.Length ?? 0) + body.Length}\n"));
            if (meta != null) output.Write(meta);
            output.Write(body);
            output.Flush();
        }
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
        if (Environment.GetEnvironmentVariable("SHIM_PROTOCOL") == "2") return Serve2(input, output);

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

    // ---- Protocol 2: open-runtimes' v5 API, Main(Context). The shim has computed everything Context.Req shows
    // and applies the contract's rules to the reply (header names and filtering, content-type and charset, log
    // truncation, log files); here the class is found, the context built and bytes moved.

    static Stream proto;
    static volatile string serving; // the request being served, null between requests
    const int LogLineMax = 1 << 16; // characters per LOG frame: far past the shim's 8000-character cut
    internal static readonly JsonSerializerOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One LOG frame while its request is served; afterwards (a task that outlived it) a line on stderr.</summary>
    internal static void WriteLog(string id, string stream, string line)
    {
        if (line.Length > LogLineMax) line = line.Substring(0, LogLineMax);
        lock (Frames)
        {
            if (id == serving)
            {
                WriteFrame(proto, $"LOG {id} {stream}", Encoding.UTF8.GetBytes(line));
                return;
            }
        }
        Console.Error.WriteLine(line);
    }

    /// <summary>"REQ &lt;id&gt; &lt;M&gt; &lt;N&gt;\n", M bytes of metadata, N - M of raw body; null on EOF.</summary>
    static (string, byte[], byte[])? ReadRequest2(Stream input)
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
        const string number = "^(0|[1-9][0-9]{0,8})$";
        if (t.Length != 4 || t[0] != "REQ" || !System.Text.RegularExpressions.Regex.IsMatch(t[1], "^[A-Za-z0-9._-]{1,64}$")
            || !System.Text.RegularExpressions.Regex.IsMatch(t[2], number) || !System.Text.RegularExpressions.Regex.IsMatch(t[3], number)
            || int.Parse(t[2]) > int.Parse(t[3]))
            Fatal("bad request header: " + string.Join(' ', t));
        var all = new byte[int.Parse(t[3])];
        for (int got = 0, n; got < all.Length; got += n)
            if ((n = input.Read(all, got, all.Length - got)) <= 0) Fatal("input ended inside a request body");
        int m = int.Parse(t[2]);
        return (t[1], all[..m], all[m..]);
    }

    static int Serve2(Stream input, Stream output)
    {
        proto = output;
        Context.Entry = Environment.GetEnvironmentVariable("SHIM_ENTRYPOINT") ?? EntryFile.Name + ".cs";
        // The function's variables are the process environment; the adapter's settings are not among them.
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(n => n.StartsWith("SHIM_")).ToList())
            Environment.SetEnvironmentVariable(name, null);

        // The entry class, found as under v1, with a method Main(Context) returning RuntimeOutput or Task<RuntimeOutput>.
        var candidates = Assembly.GetEntryAssembly()!.GetTypes()
            .Select(t => (t, m: t.GetMethod("Main", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance,
                new[] { typeof(Context) })))
            .Where(c => c.m != null && c.t != typeof(Adapter))
            .OrderBy(c => string.Equals(c.t.Name, EntryFile.Name, StringComparison.OrdinalIgnoreCase) ? 0 : 1).ToList();
        var main = candidates.FirstOrDefault().m;
        string failure = main == null ? "Function signature invalid. Did you forget to export a 'main' function? (no class has a "
            + "method Main(Context context))" : null;
        object target = null;
        try
        {
            if (main != null && !main.IsStatic) target = Activator.CreateInstance(main.DeclaringType!, nonPublic: true);
        }
        catch (TargetInvocationException e) { failure = Describe(e.InnerException ?? e); }
        catch (TypeInitializationException e) { failure = Describe(e.InnerException ?? e); }

        WriteFrame(output, "READY 2 json", Encoding.UTF8.GetBytes("dotnet " + Environment.Version));
        while (ReadRequest2(input) is (string id, byte[] meta, byte[] raw))
        {
            string head = $"ERR {id} 500";
            byte[] replyMeta = null, body = Array.Empty<byte>();
            if (failure != null)
            {
                head = $"ERR {id} 503";
                body = Encoding.UTF8.GetBytes(failure);
            }
            else
            {
                serving = id;
                string error = null;
                int code = 500;
                object result = null;
                try
                {
                    result = main.Invoke(target, new object[] { new Context(id, RuntimeRequest.Decode(meta, raw)) });
                    if (result is Task task)
                    {
                        task.GetAwaiter().GetResult();
                        result = main.ReturnType.IsGenericType ? task.GetType().GetProperty("Result")!.GetValue(task) : null;
                    }
                }
                catch (Exception e)
                {
                    var cause = e is TargetInvocationException invocation ? invocation.InnerException ?? e : e;
                    if (cause is LoadFailure) { code = 503; error = cause.Message; }
                    else error = Describe(cause);
                }
                Console.Out.Flush(); // what the request printed is logged before its reply
                if (error == null && result != null && result is not RuntimeOutput)
                    error = $"Main(context) returned a {result.GetType().Name}, not a response: return Context.Res.Text(), .Json(), "
                        + ".Binary(), .Redirect() or .Empty()";
                if (error != null)
                {
                    head = $"ERR {id} {code}";
                    body = Encoding.UTF8.GetBytes(error);
                }
                else if (result is RuntimeOutput reply)
                {
                    replyMeta = JsonSerializer.SerializeToUtf8Bytes(reply.Headers.Select(h => new[] { h.Key, h.Value }).ToArray(), JsonOptions);
                    head = $"RES {id} {reply.StatusCode} {replyMeta.Length}";
                    body = reply.Body;
                }
                else head = $"NONE {id}";
            }
            lock (Frames)
            {
                serving = null; // a log call from now on has no request: it goes to stderr
                WriteFrame(output, head, body, replyMeta);
            }
        }
        return 0;
    }
}

/// <summary>One v5 execution: the request, the reply helpers and the execution's log.</summary>
public sealed class Context
{
    internal static string Entry = "";
    readonly string id;

    public RuntimeRequest Req { get; }
    public RuntimeResponse Res { get; } = new();

    internal Context(string id, RuntimeRequest req)
    {
        this.id = id;
        Req = req;
    }

    /// <summary>The entry file the shim names under v5 (SHIM_ENTRYPOINT, from OPEN_RUNTIMES_ENTRYPOINT), which the
    /// adapter removes from the environment with its other settings. A runtime is built from one entry file and
    /// serves it whatever this says; a router (like the conformance dispatcher) may look at it.</summary>
    public static string Entrypoint => Entry;

    /// <summary>One line of the logs file: the values joined by one space, strings as they are, others as compact
    /// JSON. (An array passed alone is the list of values, as params does: wrap it, (object)array, to log it as
    /// JSON.)</summary>
    public void Log(params object[] values) => Adapter.WriteLog(id, "log", Line(values));

    /// <summary>One line of the errors file, as Log.</summary>
    public void Error(params object[] values) => Adapter.WriteLog(id, "error", Line(values));

    static string Line(object[] values) => string.Join(' ', (values ?? new object[] { null }).Select(v =>
    {
        if (v is string s) return s;
        try
        {
            return JsonSerializer.Serialize(v, v?.GetType() ?? typeof(object), Adapter.JsonOptions);
        }
        catch (Exception)
        {
            return v.ToString(); // no JSON form: as .NET prints it
        }
    }));
}

/// <summary>The request as the shim computed it; the body is decoded only when asked.</summary>
public sealed class RuntimeRequest
{
    public string Method { get; init; } = "";
    public string Scheme { get; init; } = "";
    public string Host { get; init; } = "";
    public int Port { get; init; }
    public string Path { get; init; } = "";
    public string QueryString { get; init; } = "";
    public IReadOnlyDictionary<string, string> Query { get; init; } = new Dictionary<string, string>();
    public string Url { get; init; } = "";
    /// <summary>Names lower-cased; a name sent several times has its values joined with ", ".</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();
    bool jsonBody;
    byte[] raw = Array.Empty<byte>();

    internal static RuntimeRequest Decode(byte[] meta, byte[] raw)
    {
        using var doc = JsonDocument.Parse(meta);
        var m = doc.RootElement;
        string Str(string name) => m.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : "";
        Dictionary<string, string> Map(string name) => m.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object
            ? v.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "") : new();
        return new RuntimeRequest
        {
            Method = Str("method"), Scheme = Str("scheme"), Host = Str("host"),
            Port = m.TryGetProperty("port", out var port) && port.ValueKind == JsonValueKind.Number ? port.GetInt32() : 0,
            Path = Str("path"), QueryString = Str("query_string"), Query = Map("query"), Url = Str("url"), Headers = Map("headers"),
            jsonBody = m.TryGetProperty("json_body", out var j) && j.ValueKind == JsonValueKind.True, raw = raw,
        };
    }

    /// <summary>The body as it came (a copy).</summary>
    public byte[] BodyBinary => (byte[])raw.Clone();

    /// <summary>The body as UTF-8 text.</summary>
    public string BodyText => Encoding.UTF8.GetString(raw);

    /// <summary>BodyText (open-runtimes' older name).</summary>
    public string BodyRaw => BodyText;

    /// <summary>The body parsed, as a JsonElement (key order and numbers as written; Res.Json writes it back as it
    /// is). Invalid or empty JSON throws a FormatException.</summary>
    public JsonElement BodyJson
    {
        get
        {
            try
            {
                using var doc = JsonDocument.Parse(raw);
                return doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new FormatException("the request body is not valid JSON: " + e.Message, e);
            }
        }
    }

    /// <summary>BodyJson when the content-type is application/json ({} for an empty body), else BodyText.</summary>
    public object Body => !jsonBody ? BodyText : raw.Length == 0 ? (object)JsonDocument.Parse("{}").RootElement.Clone() : BodyJson;
}

/// <summary>A reply, as Main returns it.</summary>
public sealed class RuntimeOutput
{
    public byte[] Body { get; }
    public int StatusCode { get; }
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    internal RuntimeOutput(byte[] body, int statusCode, IDictionary headers, string name = null, string value = null)
    {
        if (statusCode is < 200 or > 599)
            throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "statusCode must be from 200 to 599");
        var list = new List<KeyValuePair<string, string>>();
        if (headers != null)
            foreach (DictionaryEntry h in headers)
            {
                var key = h.Key.ToString();
                if (name != null && string.Equals(key, name, StringComparison.OrdinalIgnoreCase)) continue; // the helper's own wins
                if (h.Value is IEnumerable values and not string) // a header sent once per value
                    foreach (var one in values) list.Add(new(key, one?.ToString() ?? ""));
                else list.Add(new(key, h.Value?.ToString() ?? ""));
            }
        if (name != null) list.Add(new(name, value));
        Body = body;
        StatusCode = statusCode;
        Headers = list;
    }
}

/// <summary>The reply helpers: each returns an RuntimeOutput; a status outside 200..599 throws at your call. Headers are a
/// dictionary of names to a value, or to a list of values for a header sent once per value (set-cookie).</summary>
public sealed class RuntimeResponse
{
    internal RuntimeResponse() { }

    /// <summary>Text; content-type is the shim's default (text/plain) unless the headers give one.</summary>
    public RuntimeOutput Text(string body, int statusCode = 200, IDictionary headers = null) =>
        new(Encoding.UTF8.GetBytes(body), statusCode, headers);

    /// <summary>The JSON of value (System.Text.Json, as Response.Json), content-type application/json.</summary>
    public RuntimeOutput Json(object value, int statusCode = 200, IDictionary headers = null) =>
        new(JsonSerializer.SerializeToUtf8Bytes(value, value?.GetType() ?? typeof(object), Adapter.JsonOptions), statusCode, headers,
            "content-type", "application/json");

    /// <summary>Bytes as they are.</summary>
    public RuntimeOutput Binary(byte[] bytes, int statusCode = 200, IDictionary headers = null) =>
        new((byte[])bytes.Clone(), statusCode, headers);

    /// <summary>204, no body.</summary>
    public RuntimeOutput Empty() => new(Array.Empty<byte>(), 204, null);

    /// <summary>An empty reply with location: url, 301 unless given.</summary>
    public RuntimeOutput Redirect(string url, int statusCode = 301, IDictionary headers = null) =>
        new(Array.Empty<byte>(), statusCode, headers, "location", url);

    /// <summary>Text as given (open-runtimes' older helper).</summary>
    public RuntimeOutput Send(string body, int statusCode = 200, IDictionary headers = null) => Text(body, statusCode, headers);

    /// <summary>Bytes as given (open-runtimes' older helper).</summary>
    public RuntimeOutput Send(byte[] body, int statusCode = 200, IDictionary headers = null) => Binary(body, statusCode, headers);
}

/// <summary>Thrown by a function that cannot run at all (its setup failed): the execution is a 503 with the message
/// in the errors log, as for an entry class that fails to load.</summary>
public sealed class LoadFailure : Exception
{
    public LoadFailure(string message, Exception inner = null) : base(message, inner) { }
}
