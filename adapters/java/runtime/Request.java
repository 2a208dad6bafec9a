package runtime;

import java.util.Map;

/**
 * One execution's input. {@code path} and {@code file} are what the executor named: a compiled runtime serves
 * the same function for any, so only a router (like the conformance dispatcher) looks at them.
 */
public final class Request {
    public final Map<String, String> env;
    public final String payload;
    public final Map<String, String> headers;
    public final String path, file;
    public final long timeoutMs, deadlineMs;

    Request(Map<String, String> env, String payload, Map<String, String> headers, String path, String file,
            long timeoutMs, long deadlineMs) {
        this.env = env;
        this.payload = payload;
        this.headers = headers;
        this.path = path;
        this.file = file;
        this.timeoutMs = timeoutMs;
        this.deadlineMs = deadlineMs;
    }
}
