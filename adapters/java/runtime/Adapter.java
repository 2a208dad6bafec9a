package runtime;

import java.io.*;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.*;

/**
 * runtime-shim adapter for Java: serves the user's {@code main(Request, Response)} over adapter protocol 1
 * (docs/adapter-protocol.md), persistently, one request at a time. Requests come in the `kv` encoding.
 *
 * <p>Run as {@code java runtime.Adapter <entry class>} by the launcher the build writes, which has already
 * moved the protocol off fds 0 and 1: replies go to fd 3, requests come from fd 4, fd 1 is stderr and fd 0
 * is /dev/null. So System.out, native code and child processes (even with inheritIO) can neither write nor
 * read a frame.
 */
public final class Adapter {
    private static final int HEADER_MAX = 256;

    private Adapter() {}

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
        out.write((head + " " + body.length + "\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
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
}
