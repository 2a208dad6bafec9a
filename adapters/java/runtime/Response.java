package runtime;

import java.lang.reflect.Array;
import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;

/** The reply: the last {@code send} or {@code json} before {@code main} returns wins. */
public final class Response {
    String head; // "RES <status> <type>" or "ERR 404"
    byte[] body;

    /** {@code text} as text/plain; charset=utf-8, status 200. */
    public void send(String text) {
        send(text, 200);
    }

    /** {@code text} as text/plain; charset=utf-8. A status outside 200–599 throws at your call. */
    public void send(String text, int status) {
        head = "RES " + checked(status) + " text";
        body = text.getBytes(StandardCharsets.UTF_8);
    }

    /** The JSON of {@code value}, status 200. */
    public void json(Object value) {
        json(value, 200);
    }

    /**
     * The JSON of {@code value} as application/json: maps (keys as strings), collections, arrays, records,
     * strings, numbers, booleans, Optional and null. Anything else throws IllegalArgumentException.
     */
    public void json(Object value, int status) {
        StringBuilder out = new StringBuilder();
        write(value, out, 0);
        head = "RES " + checked(status) + " json";
        body = out.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Answers as the shim's "not found" (404), for a function that routes on {@code req.file}. */
    public void notFound(String message) {
        head = "ERR 404";
        body = message.getBytes(StandardCharsets.UTF_8);
    }

    private static int checked(int status) {
        if (status < 200 || status > 599) throw new IllegalArgumentException("status must be from 200 to 599, not " + status);
        return status;
    }

    static void write(Object v, StringBuilder out, int depth) {
        if (depth > 200) throw new IllegalArgumentException("res.json(): nested too deep (a cycle?)");
        if (v instanceof Optional<?> o) v = o.orElse(null);
        if (v == null) {
            out.append("null");
        } else if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short
                || v instanceof Byte || v instanceof java.math.BigInteger || v instanceof java.math.BigDecimal) {
            out.append(v);
        } else if (v instanceof Number n) {
            double d = n.doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) throw new IllegalArgumentException("res.json(): " + d + " is not JSON");
            out.append(v instanceof Float f ? Float.toString(f) : Double.toString(d));
        } else if (v instanceof CharSequence || v instanceof Character || v instanceof Enum) {
            quote(v.toString(), out);
        } else if (v instanceof Map<?, ?> map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (!first) out.append(',');
                first = false;
                quote(String.valueOf(e.getKey()), out);
                out.append(':');
                write(e.getValue(), out, depth + 1);
            }
            out.append('}');
        } else if (v instanceof Iterable<?> items) {
            out.append('[');
            boolean first = true;
            for (Object item : items) {
                if (!first) out.append(',');
                first = false;
                write(item, out, depth + 1);
            }
            out.append(']');
        } else if (v.getClass().isArray()) {
            out.append('[');
            for (int i = 0; i < Array.getLength(v); i++) {
                if (i > 0) out.append(',');
                write(Array.get(v, i), out, depth + 1);
            }
            out.append(']');
        } else if (v.getClass().isRecord()) {
            out.append('{');
            RecordComponent[] parts = v.getClass().getRecordComponents();
            for (int i = 0; i < parts.length; i++) {
                if (i > 0) out.append(',');
                quote(parts[i].getName(), out);
                out.append(':');
                try {
                    parts[i].getAccessor().setAccessible(true);
                    write(parts[i].getAccessor().invoke(v), out, depth + 1);
                } catch (ReflectiveOperationException e) {
                    throw new IllegalArgumentException("res.json(): cannot read " + parts[i], e);
                }
            }
            out.append('}');
        } else {
            throw new IllegalArgumentException("res.json(): a " + v.getClass().getName() + " has no JSON form");
        }
    }

    private static void quote(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') out.append('\\').append(c);
            else if (c == '\n') out.append("\\n");
            else if (c < 0x20) out.append("\\u00").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
            else out.append(c);
        }
        out.append('"');
    }
}
