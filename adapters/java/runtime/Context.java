package runtime;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.*;

/**
 * One execution under the v5 contract: open-runtimes' {@code main(context)}. {@code context.req} is the request
 * as the shim computed it, {@code context.res} makes the reply (only what {@code main} returns is sent), and
 * {@code context.log}/{@code context.error} write the execution's log files.
 */
public final class Context {
    public final Request req;
    public final Response res = new Response();
    private final String id;
    static String entrypoint;

    /**
     * The entry file the shim names under v5 (SHIM_ENTRYPOINT, from OPEN_RUNTIMES_ENTRYPOINT), which the adapter
     * hides from System.getenv() with the shim's other settings. A runtime is built from one entry class and
     * serves it whatever this says; a router (like the conformance dispatcher) may look at it.
     */
    public static String entrypoint() {
        return entrypoint;
    }

    Context(String id, Request req) {
        this.id = id;
        this.req = req;
    }

    /** One line of the logs file: the values joined by one space, strings as they are, others as compact JSON. */
    public void log(Object... values) {
        Adapter.writeLog(id, "log", line(values));
    }

    /** One line of the errors file, as {@link #log}. */
    public void error(Object... values) {
        Adapter.writeLog(id, "error", line(values));
    }

    private static String line(Object[] values) {
        StringJoiner out = new StringJoiner(" ");
        for (Object v : values) {
            if (v instanceof CharSequence) {
                out.add(v.toString());
                continue;
            }
            StringBuilder json = new StringBuilder();
            try {
                runtime.Response.write(v, json, 0);
                out.add(json);
            } catch (IllegalArgumentException e) { // no JSON form: as Java prints it
                out.add(String.valueOf(v));
            }
        }
        return out.toString();
    }

    /** The request: its parts as fields, its body decoded only when asked. */
    public static final class Request {
        public final String method, scheme, host, path, queryString, url;
        public final int port;
        /** Names lower-cased; a name sent several times has its values joined with ", ". */
        public final Map<String, String> headers;
        public final Map<String, String> query;
        private final byte[] body;
        private final boolean jsonBody;

        Request(Map<String, String> fields, Map<String, String> headers, Map<String, String> query, byte[] body) {
            method = fields.getOrDefault("method", "");
            scheme = fields.getOrDefault("scheme", "");
            host = fields.getOrDefault("host", "");
            path = fields.getOrDefault("path", "");
            queryString = fields.getOrDefault("query_string", "");
            url = fields.getOrDefault("url", "");
            port = Integer.parseInt(fields.getOrDefault("port", "0"));
            jsonBody = "1".equals(fields.get("json_body"));
            this.headers = Collections.unmodifiableMap(headers);
            this.query = Collections.unmodifiableMap(query);
            this.body = body;
        }

        /** The body as it came (a copy). */
        public byte[] bodyBinary() {
            return body.clone();
        }

        /** The body as UTF-8 text. */
        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /** {@link #bodyText} (open-runtimes' older name). */
        public String bodyRaw() {
            return bodyText();
        }

        /**
         * The body parsed as JSON: objects are {@code LinkedHashMap}s (key order kept), arrays {@code ArrayList}s,
         * numbers {@code Long} (or {@code BigInteger}) and {@code BigDecimal}. Invalid JSON, or an empty body,
         * throws IllegalArgumentException.
         */
        public Object bodyJson() {
            return new Json(bodyText()).document();
        }

        /** {@link #bodyJson} when the content-type is application/json ({} for an empty body), else the text. */
        public Object body() {
            if (!jsonBody) return bodyText();
            return body.length == 0 ? new LinkedHashMap<String, Object>() : bodyJson();
        }
    }

    /** A reply, as {@code main} returns it. */
    public static final class Output {
        final byte[] body;
        final int statusCode;
        final List<String[]> headers;

        Output(byte[] body, int statusCode, Map<String, ?> headers, String name, String value) {
            if (statusCode < 200 || statusCode > 599) {
                throw new IllegalArgumentException("statusCode must be from 200 to 599, not " + statusCode);
            }
            this.body = body;
            this.statusCode = statusCode;
            this.headers = new ArrayList<>();
            if (headers != null) {
                for (Map.Entry<String, ?> h : headers.entrySet()) {
                    if (name != null && h.getKey().equalsIgnoreCase(name)) continue; // the helper's own wins
                    if (h.getValue() instanceof Iterable<?> values) { // a header sent once per value
                        for (Object v : values) this.headers.add(new String[] {h.getKey(), String.valueOf(v)});
                    } else {
                        this.headers.add(new String[] {h.getKey(), String.valueOf(h.getValue())});
                    }
                }
            }
            if (name != null) this.headers.add(new String[] {name, value});
        }

        public byte[] body() {
            return body.clone();
        }

        public int statusCode() {
            return statusCode;
        }
    }

    /**
     * The reply helpers. Each returns an {@link Output}; a status outside 200–599 throws at your call. Headers
     * are a map of names to a value, or to a list of values for a header sent once per value (set-cookie).
     */
    public static final class Response {
        private Response() {}

        public Output text(String body) {
            return text(body, 200, null);
        }

        public Output text(String body, int statusCode) {
            return text(body, statusCode, null);
        }

        /** Text; content-type is the shim's default (text/plain) unless the headers give one. */
        public Output text(String body, int statusCode, Map<String, ?> headers) {
            return new Output(body.getBytes(StandardCharsets.UTF_8), statusCode, headers, null, null);
        }

        public Output json(Object value) {
            return json(value, 200, null);
        }

        public Output json(Object value, int statusCode) {
            return json(value, statusCode, null);
        }

        /** The JSON of value (what {@code res.json} of the v1 API takes), content-type application/json. */
        public Output json(Object value, int statusCode, Map<String, ?> headers) {
            StringBuilder out = new StringBuilder();
            runtime.Response.write(value, out, 0);
            return new Output(out.toString().getBytes(StandardCharsets.UTF_8), statusCode, headers,
                    "content-type", "application/json");
        }

        public Output binary(byte[] body) {
            return binary(body, 200, null);
        }

        public Output binary(byte[] body, int statusCode) {
            return binary(body, statusCode, null);
        }

        /** Bytes as they are. */
        public Output binary(byte[] body, int statusCode, Map<String, ?> headers) {
            return new Output(body.clone(), statusCode, headers, null, null);
        }

        /** 204, no body. */
        public Output empty() {
            return new Output(new byte[0], 204, null, null, null);
        }

        public Output redirect(String url) {
            return redirect(url, 301, null);
        }

        public Output redirect(String url, int statusCode) {
            return redirect(url, statusCode, null);
        }

        /** An empty reply with location: url (301 unless given). */
        public Output redirect(String url, int statusCode, Map<String, ?> headers) {
            return new Output(new byte[0], statusCode, headers, "location", url);
        }

        public Output send(String body) {
            return text(body, 200, null);
        }

        public Output send(String body, int statusCode, Map<String, ?> headers) {
            return text(body, statusCode, headers);
        }

        /** Bytes or text as given (open-runtimes' older helper). */
        public Output send(byte[] body, int statusCode, Map<String, ?> headers) {
            return binary(body, statusCode, headers);
        }
    }

    /**
     * Thrown by a function that cannot run at all (its setup failed): the execution is a 503 with the message in
     * the errors log, as for an entry class that fails to load.
     */
    public static final class LoadFailure extends RuntimeException {
        public LoadFailure(String message) {
            super(message);
        }

        public LoadFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A JSON parser for bodyJson: the JDK has none. */
    private static final class Json {
        private final String s;
        private int at;

        Json(String s) {
            this.s = s;
        }

        Object document() {
            Object v = value(0);
            space();
            if (at != s.length()) fail("unexpected data after the JSON value");
            return v;
        }

        private IllegalArgumentException fail(String why) {
            throw new IllegalArgumentException("the request body is not valid JSON: " + why + " at character " + at);
        }

        private void space() {
            while (at < s.length() && " \t\r\n".indexOf(s.charAt(at)) >= 0) at++;
        }

        private boolean take(char c) {
            space();
            if (at < s.length() && s.charAt(at) == c) {
                at++;
                return true;
            }
            return false;
        }

        private Object value(int depth) {
            if (depth > 500) fail("nested too deep");
            space();
            if (at >= s.length()) fail("unexpected end of input");
            char c = s.charAt(at);
            if (c == '{') {
                at++;
                Map<String, Object> map = new LinkedHashMap<>();
                if (take('}')) return map;
                do {
                    space();
                    if (at >= s.length() || s.charAt(at) != '"') fail("expected a string key");
                    String key = string();
                    if (!take(':')) fail("expected ':'");
                    map.put(key, value(depth + 1));
                } while (take(','));
                if (!take('}')) fail("expected ',' or '}'");
                return map;
            }
            if (c == '[') {
                at++;
                List<Object> list = new ArrayList<>();
                if (take(']')) return list;
                do list.add(value(depth + 1)); while (take(','));
                if (!take(']')) fail("expected ',' or ']'");
                return list;
            }
            if (c == '"') return string();
            for (String word : new String[] {"true", "false", "null"}) {
                if (s.startsWith(word, at)) {
                    at += word.length();
                    return word.equals("null") ? null : Boolean.valueOf(word.equals("true"));
                }
            }
            int start = at;
            if (at < s.length() && s.charAt(at) == '-') at++;
            boolean integral = true;
            while (at < s.length() && "0123456789.eE+-".indexOf(s.charAt(at)) >= 0) {
                integral &= Character.isDigit(s.charAt(at));
                at++;
            }
            String number = s.substring(start, at);
            if (!number.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?")) fail("unexpected character");
            if (!integral) return new BigDecimal(number);
            BigInteger big = new BigInteger(number);
            return big.bitLength() < 64 ? (Object) big.longValue() : big;
        }

        private String string() {
            at++; // the opening quote
            StringBuilder out = new StringBuilder();
            while (true) {
                if (at >= s.length()) fail("unterminated string");
                char c = s.charAt(at++);
                if (c == '"') return out.toString();
                if (c < 0x20) fail("a control character in a string");
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                if (at >= s.length()) fail("unterminated string");
                char e = s.charAt(at++);
                switch (e) {
                    case '"', '\\', '/' -> out.append(e);
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'n' -> out.append('\n');
                    case 'r' -> out.append('\r');
                    case 't' -> out.append('\t');
                    case 'u' -> {
                        if (at + 4 > s.length() || !s.substring(at, at + 4).matches("[0-9a-fA-F]{4}")) fail("bad \\u escape");
                        out.append((char) Integer.parseInt(s.substring(at, at + 4), 16));
                        at += 4;
                    }
                    default -> fail("bad escape");
                }
            }
        }
    }
}
