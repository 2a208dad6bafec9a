package runtime;

import java.io.*;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.*;

/**
 * runtime-shim adapter for Java: serves the user's {@code main(Request, Response)} over adapter protocol 1 (the
 * v1 contract), or open-runtimes' {@code main(Context)} over adapter protocol 2 (the v5 contract) when
 * SHIM_PROTOCOL is 2 (docs/adapter-protocol.md), persistently, one request at a time. Requests come in the `kv`
 * encoding.
 *
 * <p>Run as {@code java runtime.Adapter <entry class>} by the launcher the build writes, which has already
 * moved the protocol off fds 0 and 1: replies go to fd 3, requests come from fd 4, fd 1 is stderr and fd 0
 * is /dev/null. So System.out, native code and child processes (even with inheritIO) can neither write nor
 * read a frame.
 */
public final class Adapter {
    private static final int HEADER_MAX = 256;

    private Adapter() {}

    private static OutputStream proto;
    private static volatile String serving; // protocol 2: the request being served, null between requests
    private static final int LOG_LINE_MAX = 1 << 16; // characters per LOG frame: far past the shim's 8000-character cut

    private static void fatal(String message) {
        System.err.println("java adapter: " + message);
        System.exit(2);
    }

    /** "REQ <id> <N>\n" and the body; null on EOF between frames. Returns {id, body}. */
    private static Object[] readRequest(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int c; (c = in.read()) != '\n'; line.write(c)) {
            if (c < 0) {
                if (line.size() == 0) return null;
                fatal("input ended inside a request header");
            }
            if (line.size() >= HEADER_MAX - 1) fatal("a request header is longer than " + HEADER_MAX + " bytes");
        }
        String[] t = line.toString(StandardCharsets.US_ASCII).split(" ", -1);
        if (t.length < 3 || !t[0].equals("REQ") || !t[1].matches("[A-Za-z0-9._-]{1,64}")
                || !t[t.length - 1].matches("0|[1-9][0-9]{0,8}")) {
            fatal("bad request header: " + line);
        }
        byte[] body = in.readNBytes(Integer.parseInt(t[t.length - 1]));
        if (body.length != Integer.parseInt(t[t.length - 1])) fatal("input ended inside a request body");
        return new Object[] {t[1], body};
    }

    /** The `kv` encoding: records "<tag> <K> <V>\n<K bytes of key><V bytes of value>". */
    private static Request decode(byte[] body) {
        Map<String, String> fields = new HashMap<>(), env = new HashMap<>(), headers = new HashMap<>();
        for (int at = 0; at < body.length; ) {
            int nl = at;
            while (nl < body.length && body[nl] != '\n') nl++;
            String[] head = new String(body, at, nl - at, StandardCharsets.US_ASCII).split(" ");
            int k = -1, v = -1;
            try {
                k = Integer.parseInt(head[1]);
                v = Integer.parseInt(head[2]);
            } catch (RuntimeException e) {
                fatal("bad request record");
            }
            if (nl == body.length || k < 0 || v < 0 || nl + 1 + k + v > body.length) fatal("bad request record");
            String key = new String(body, nl + 1, k, StandardCharsets.UTF_8);
            String value = new String(body, nl + 1 + k, v, StandardCharsets.UTF_8);
            switch (head[0]) {
                case "env" -> env.put(key, value);
                case "header" -> headers.put(key, value);
                default -> fields.put(head[0], value);
            }
            at = nl + 1 + k + v;
        }
        return new Request(env, fields.getOrDefault("payload", ""), headers, fields.getOrDefault("path", ""),
                fields.getOrDefault("file", ""), Long.parseLong(fields.getOrDefault("timeout_ms", "0")),
                Long.parseLong(fields.getOrDefault("deadline_ms", "0")));
    }

    private static void writeFrame(OutputStream out, String head, byte[] body) throws IOException {
        writeFrame(out, head, new byte[0], body);
    }

    /** {@code <head> <M+N>\n}, M bytes of meta and the body, as one frame whatever thread writes. */
    private static void writeFrame(OutputStream out, String head, byte[] meta, byte[] body) throws IOException {
        synchronized (Adapter.class) {
            out.write((head + " " + (meta.length + body.length) + "\n").getBytes(StandardCharsets.US_ASCII));
            out.write(meta);
            out.write(body);
            out.flush();
        }
    }

    /** The stack trace as Java prints it, without the frames of reflection and this adapter. */
    private static String describe(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            List<StackTraceElement> frames = new ArrayList<>();
            for (StackTraceElement f : t.getStackTrace()) {
                String c = f.getClassName();
                if (c.startsWith("jdk.internal.reflect.") || c.startsWith("java.lang.reflect.") || c.equals(Adapter.class.getName())) break;
                frames.add(f);
            }
            t.setStackTrace(frames.toArray(new StackTraceElement[0]));
        }
        StringWriter text = new StringWriter();
        error.printStackTrace(new PrintWriter(text));
        return text.toString();
    }

    public static void main(String[] args) throws IOException {
        // Java's own streams in UTF-8 whatever the locale, flushed by line so that they are logged as printed.
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8));
        if (args.length != 1) fatal("usage: java runtime.Adapter <entry class>");
        InputStream in = new BufferedInputStream(new FileInputStream("/proc/self/fd/4"), 1 << 16);
        OutputStream out = new BufferedOutputStream(new FileOutputStream("/proc/self/fd/3"), 1 << 16);
        if ("2".equals(System.getenv("SHIM_PROTOCOL"))) serve2(args[0], in, out);

        // Load the entry class once: its main(Request, Response), static or on one instance for the process.
        Method main = null;
        Object target = null;
        String missing = null;
        try {
            main = Class.forName(args[0]).getDeclaredMethod("main", Request.class, Response.class);
            main.setAccessible(true);
            if (!Modifier.isStatic(main.getModifiers())) {
                var constructor = main.getDeclaringClass().getDeclaredConstructor();
                constructor.setAccessible(true);
                target = constructor.newInstance();
            }
        } catch (ClassNotFoundException e) {
            missing = "class " + args[0] + " was not found: expected a class named after the entry file";
        } catch (NoSuchMethodException e) {
            missing = "class " + args[0] + " defines no method main(Request req, Response res)";
        } catch (ReflectiveOperationException e) {
            missing = "class " + args[0] + " cannot be created: " + describe(e.getCause() != null ? e.getCause() : e);
        }

        writeFrame(out, "READY 1 kv", ("java " + System.getProperty("java.version")).getBytes(StandardCharsets.UTF_8));
        for (Object[] frame; (frame = readRequest(in)) != null; ) {
            String id = (String) frame[0];
            Request req = decode((byte[]) frame[1]);
            Response res = new Response();
            String failure = null;
            if (missing != null) {
                res.notFound(missing);
            } else {
                try {
                    main.invoke(target, req, res);
                } catch (InvocationTargetException e) {
                    failure = describe(e.getCause());
                } catch (IllegalAccessException e) {
                    failure = describe(e);
                }
            }
            System.out.flush(); // what the request printed is logged before its reply
            if (failure != null) {
                writeFrame(out, "ERR " + id + " 500", failure.getBytes(StandardCharsets.UTF_8));
            } else if (res.head == null) {
                writeFrame(out, "ERR " + id + " 500", ("main(req, res) of " + args[0]
                        + " returned without calling res.send() or res.json()").getBytes(StandardCharsets.UTF_8));
            } else {
                int space = res.head.indexOf(' ');
                writeFrame(out, res.head.substring(0, space) + " " + id + res.head.substring(space), res.body);
            }
        }
        System.exit(0);
    }

    // ---- Protocol 2: open-runtimes' v5 API, main(Context). The shim has computed everything context.req shows
    // and applies the contract's rules to the reply (header names and filtering, content-type and charset, log
    // truncation, log files); here the class is loaded, the context built and bytes moved.

    /** One LOG frame while its request is served; afterwards (a thread that outlived it) a line on stderr. */
    static void writeLog(String id, String stream, String line) {
        if (line.length() > LOG_LINE_MAX) line = line.substring(0, LOG_LINE_MAX);
        synchronized (Adapter.class) {
            if (id.equals(serving)) {
                try {
                    writeFrame(proto, "LOG " + id + " " + stream, line.getBytes(StandardCharsets.UTF_8));
                    return;
                } catch (IOException e) {
                    fatal("cannot write to the shim: " + e);
                }
            }
        }
        System.err.println(line);
    }

    /**
     * The function's variables are the process environment, and System.getenv() cannot be changed: the shim's
     * own settings (SHIM_*) are taken out of the map behind it. Child processes still inherit them.
     */
    private static void hideShimSettings() {
        try {
            Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
            java.lang.reflect.Field theUnsafe = unsafeClass.getDeclaredField("theUnsafe");
            theUnsafe.setAccessible(true);
            Object unsafe = theUnsafe.get(null);
            java.lang.reflect.Field inner = Class.forName("java.util.Collections$UnmodifiableMap").getDeclaredField("m");
            long offset = (long) unsafeClass.getMethod("objectFieldOffset", java.lang.reflect.Field.class).invoke(unsafe, inner);
            Map<?, ?> env = (Map<?, ?>) unsafeClass.getMethod("getObject", Object.class, long.class)
                    .invoke(unsafe, System.getenv(), offset);
            env.keySet().removeIf(name -> name.toString().startsWith("SHIM_"));
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("java adapter: the shim's settings stay in System.getenv(): " + e);
        }
    }

    private static void serve2(String className, InputStream in, OutputStream out) throws IOException {
        proto = out;
        String entry = Objects.requireNonNullElse(System.getenv("SHIM_ENTRYPOINT"), className);
        Context.entrypoint = entry;
        Method main = null;
        Object target = null;
        String failure = null;
        try {
            main = Class.forName(className).getDeclaredMethod("main", Context.class);
            main.setAccessible(true);
            if (!Modifier.isStatic(main.getModifiers())) {
                var constructor = main.getDeclaringClass().getDeclaredConstructor();
                constructor.setAccessible(true);
                target = constructor.newInstance();
            }
        } catch (ClassNotFoundException e) {
            failure = "Failed to load entrypoint, file " + entry + " does not exist.";
        } catch (NoSuchMethodException e) {
            failure = "Function signature invalid. Did you forget to export a 'main' function? (class " + className
                    + " has no method main(Context context))";
        } catch (InvocationTargetException e) {
            failure = describe(e.getCause());
        } catch (ReflectiveOperationException e) {
            failure = describe(e);
        } catch (ExceptionInInitializerError e) {
            failure = describe(e.getCause() != null ? e.getCause() : e);
        } catch (LinkageError e) {
            failure = describe(e);
        }
        hideShimSettings();
        writeFrame(out, "READY 2 kv", ("java " + System.getProperty("java.version")).getBytes(StandardCharsets.UTF_8));
        for (Object[] frame; (frame = readRequest2(in)) != null; ) {
            String id = (String) frame[0];
            String head;
            byte[] meta = new byte[0], body = new byte[0];
            if (failure != null) {
                head = "ERR " + id + " 503";
                body = failure.getBytes(StandardCharsets.UTF_8);
            } else {
                serving = id;
                Object result = null;
                String error = null;
                int code = 500;
                try {
                    result = main.invoke(target, new Context(id, decode2((byte[]) frame[1], (byte[]) frame[2])));
                } catch (InvocationTargetException e) {
                    error = describe(e.getCause());
                    if (e.getCause() instanceof Context.LoadFailure) {
                        code = 503;
                        error = e.getCause().getMessage();
                    }
                } catch (IllegalAccessException e) {
                    error = describe(e);
                }
                System.out.flush(); // what the request printed is logged before its reply
                if (error == null && result != null && !(result instanceof Context.Output)) {
                    error = "main(context) of " + className + " returned a " + result.getClass().getName()
                            + ", not a response: return context.res.text(), .json(), .binary(), .redirect() or .empty()";
                }
                if (error != null) {
                    head = "ERR " + id + " " + code;
                    body = error.getBytes(StandardCharsets.UTF_8);
                } else if (result == null) {
                    head = "NONE " + id;
                } else {
                    Context.Output reply = (Context.Output) result;
                    ByteArrayOutputStream headers = new ByteArrayOutputStream();
                    for (String[] h : reply.headers) record(headers, "header", h[0], h[1]);
                    meta = headers.toByteArray();
                    head = "RES " + id + " " + reply.statusCode + " " + meta.length;
                    body = reply.body;
                }
            }
            synchronized (Adapter.class) {
                serving = null; // a log call from now on has no request: it goes to stderr
                writeFrame(out, head, meta, body);
            }
        }
        System.exit(0);
    }

    private static void record(ByteArrayOutputStream out, String tag, String key, String value) {
        byte[] k = key.getBytes(StandardCharsets.UTF_8), v = value.getBytes(StandardCharsets.UTF_8);
        out.writeBytes((tag + " " + k.length + " " + v.length + "\n").getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(k);
        out.writeBytes(v);
    }

    /** "REQ <id> <M> <N>\n", M bytes of metadata, N - M of raw body; null on EOF. Returns {id, meta, body}. */
    private static Object[] readRequest2(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int c; (c = in.read()) != '\n'; line.write(c)) {
            if (c < 0) {
                if (line.size() == 0) return null;
                fatal("input ended inside a request header");
            }
            if (line.size() >= HEADER_MAX - 1) fatal("a request header is longer than " + HEADER_MAX + " bytes");
        }
        String[] t = line.toString(StandardCharsets.US_ASCII).split(" ", -1);
        if (t.length != 4 || !t[0].equals("REQ") || !t[1].matches("[A-Za-z0-9._-]{1,64}")
                || !t[2].matches("0|[1-9][0-9]{0,8}") || !t[3].matches("0|[1-9][0-9]{0,8}")
                || Integer.parseInt(t[2]) > Integer.parseInt(t[3])) {
            fatal("bad request header: " + line);
        }
        int m = Integer.parseInt(t[2]), n = Integer.parseInt(t[3]);
        byte[] meta = in.readNBytes(m), body = in.readNBytes(n - m);
        if (meta.length != m || body.length != n - m) fatal("input ended inside a request body");
        return new Object[] {t[1], meta, body};
    }

    /** The `kv` metadata of protocol 2: the request's parts, then `header` and `query` records. */
    private static Context.Request decode2(byte[] meta, byte[] body) {
        Map<String, String> fields = new HashMap<>(), headers = new LinkedHashMap<>(), query = new LinkedHashMap<>();
        for (int at = 0; at < meta.length; ) {
            int nl = at;
            while (nl < meta.length && meta[nl] != '\n') nl++;
            String[] head = new String(meta, at, nl - at, StandardCharsets.US_ASCII).split(" ");
            int k = -1, v = -1;
            try {
                k = Integer.parseInt(head[1]);
                v = Integer.parseInt(head[2]);
            } catch (RuntimeException e) {
                fatal("bad request record");
            }
            if (nl == meta.length || k < 0 || v < 0 || nl + 1 + k + v > meta.length) fatal("bad request record");
            String key = new String(meta, nl + 1, k, StandardCharsets.UTF_8);
            String value = new String(meta, nl + 1 + k, v, StandardCharsets.UTF_8);
            switch (head[0]) {
                case "header" -> headers.put(key, value);
                case "query" -> query.put(key, value);
                default -> fields.put(head[0], value);
            }
            at = nl + 1 + k + v;
        }
        return new Context.Request(fields, headers, query, body);
    }
}
