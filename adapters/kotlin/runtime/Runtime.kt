// runtime-shim adapter library for Kotlin/JVM: serves the user's top-level `fun main(req: Request, res: Response)`
// over adapter protocol 1 (the v1 contract), or open-runtimes' `fun main(context: Context): RuntimeOutput?` over
// adapter protocol 2 (the v5 contract) when SHIM_PROTOCOL is 2 (docs/adapter-protocol.md), persistently, one
// request at a time. Standard library only; requests come in the `kv` encoding. Kotlin 1.3+ on Java 11+.
//
// Run as `java runtime.AdapterKt <class of the entry file>` by the launcher the build writes, which has already
// moved the protocol off fds 0 and 1: replies go to fd 3, requests come from fd 4, fd 1 is stderr and fd 0 is
// /dev/null. So println, native code and child processes can neither write nor read a frame.
@file:JvmName("AdapterKt")

package runtime

import java.io.*
import java.lang.reflect.InvocationTargetException
import java.lang.reflect.Method
import java.lang.reflect.Modifier
import kotlin.system.exitProcess

/** One execution's input. [path] and [file] are what the executor named: only a router looks at them. */
class Request(
    val env: Map<String, String>,
    val payload: String,
    val headers: Map<String, String>,
    val path: String,
    val file: String,
    val timeoutMs: Long,
    val deadlineMs: Long
)

/** The reply: the last [send] or [json] before `main` returns wins. */
class Response {
    internal var head: String? = null // "RES <status> <type>" or "ERR 404"
    internal var body = ByteArray(0)

    /** [text] as text/plain; charset=utf-8. A status outside 200..599 throws at your call. */
    fun send(text: String, status: Int = 200) {
        head = "RES ${checked(status)} text"
        body = text.toByteArray()
    }

    /** The JSON of [value]: maps, iterables, arrays, pairs (as 2-arrays), strings, numbers, booleans, null. */
    fun json(value: Any?, status: Int = 200) {
        val out = StringBuilder()
        writeJson(value, out, 0)
        head = "RES ${checked(status)} json"
        body = out.toString().toByteArray()
    }

    /** Answers as the shim's "not found" (404), for a function that routes on [Request.file]. */
    fun notFound(message: String) {
        head = "ERR 404"
        body = message.toByteArray()
    }

    private fun checked(status: Int) = status.also { require(it in 200..599) { "status must be from 200 to 599, not $it" } }
}

/** The JSON of [v] (see [Response.json]); anything else throws IllegalArgumentException. */
internal fun writeJson(v: Any?, out: StringBuilder, depth: Int) {
    require(depth <= 200) { "res.json(): nested too deep (a cycle?)" }
    when (v) {
        null -> out.append("null")
        is Boolean, is Int, is Long, is Short, is Byte, is java.math.BigInteger, is java.math.BigDecimal -> out.append(v)
        is Number -> v.toDouble().let { d ->
            require(!d.isNaN() && !d.isInfinite()) { "res.json(): $d is not JSON" }
            out.append(if (v is Float) v.toString() else d.toString())
        }
        is CharSequence, is Char, is Enum<*> -> quoteJson(v.toString(), out)
        is Map<*, *> -> {
            out.append('{')
            for ((i, entry) in v.entries.withIndex()) {
                if (i > 0) out.append(',')
                quoteJson(entry.key.toString(), out)
                out.append(':')
                writeJson(entry.value, out, depth + 1)
            }
            out.append('}')
        }
        is Pair<*, *> -> writeJson(listOf(v.first, v.second), out, depth)
        is Iterable<*> -> {
            out.append('[')
            for ((i, item) in v.withIndex()) {
                if (i > 0) out.append(',')
                writeJson(item, out, depth + 1)
            }
            out.append(']')
        }
        is Array<*> -> writeJson(v.asList(), out, depth)
        is IntArray -> writeJson(v.asList(), out, depth)
        is LongArray -> writeJson(v.asList(), out, depth)
        is DoubleArray -> writeJson(v.asList(), out, depth)
        is BooleanArray -> writeJson(v.asList(), out, depth)
        else -> throw IllegalArgumentException("res.json(): a ${v.javaClass.name} has no JSON form")
    }
}

private fun quoteJson(s: String, out: StringBuilder) {
    out.append('"')
    for (c in s) when {
        c == '"' || c == '\\' -> out.append('\\').append(c)
        c == '\n' -> out.append("\\n")
        c < ' ' -> out.append("\\u00").append(Character.forDigit(c.toInt() shr 4, 16)).append(Character.forDigit(c.toInt() and 15, 16))
        else -> out.append(c)
    }
    out.append('"')
}

// ---- The v5 contract's API: `fun main(context: Context): RuntimeOutput?`.

/** One v5 execution: the request, the reply helpers and the execution's log. */
class Context internal constructor(private val id: String, val req: RuntimeRequest) {
    val res = RuntimeResponse()

    /** One line of the logs file: the values joined by one space, strings as they are, others as compact JSON. */
    fun log(vararg values: Any?) = writeLog(id, "log", logLine(values))

    /** One line of the errors file, as [log]. */
    fun error(vararg values: Any?) = writeLog(id, "error", logLine(values))

    companion object {
        internal var entry = ""

        /**
         * The entry file the shim names under v5 (SHIM_ENTRYPOINT, from OPEN_RUNTIMES_ENTRYPOINT), which the
         * adapter hides from System.getenv() with its other settings. A runtime is built from one entry file and
         * serves it whatever this says; a router (like the conformance dispatcher) may look at it.
         */
        fun entrypoint(): String = entry
    }
}

private fun logLine(values: Array<out Any?>) = values.joinToString(" ") { v ->
    if (v is CharSequence) v.toString() else try {
        StringBuilder().also { writeJson(v, it, 0) }.toString()
    } catch (e: IllegalArgumentException) {
        v.toString() // no JSON form: as Kotlin prints it
    }
}

/** The request as the shim computed it; the body is decoded only when asked. */
class RuntimeRequest internal constructor(
    fields: Map<String, String>,
    /** Names lower-cased; a name sent several times has its values joined with ", ". */
    val headers: Map<String, String>,
    val query: Map<String, String>,
    private val raw: ByteArray
) {
    val method = fields["method"] ?: ""
    val scheme = fields["scheme"] ?: ""
    val host = fields["host"] ?: ""
    val port = fields["port"]?.toIntOrNull() ?: 0
    val path = fields["path"] ?: ""
    val queryString = fields["query_string"] ?: ""
    val url = fields["url"] ?: ""
    private val jsonBody = fields["json_body"] == "1"

    /** The body as it came (a copy). */
    val bodyBinary: ByteArray get() = raw.copyOf()

    /** The body as UTF-8 text. */
    val bodyText: String get() = String(raw, Charsets.UTF_8)

    /** [bodyText] (open-runtimes' older name). */
    val bodyRaw: String get() = bodyText

    /**
     * The body parsed as JSON: objects are LinkedHashMaps (key order kept), arrays Lists, numbers Long (or
     * BigInteger) and BigDecimal. Invalid JSON, or an empty body, throws IllegalArgumentException.
     */
    val bodyJson: Any? get() = JsonParser(bodyText).document()

    /** [bodyJson] when the content-type is application/json ({} for an empty body), else [bodyText]. */
    val body: Any? get() = if (!jsonBody) bodyText else if (raw.isEmpty()) LinkedHashMap<String, Any?>() else bodyJson
}

/** A reply, as `main` returns it. */
class RuntimeOutput internal constructor(val body: ByteArray, val statusCode: Int, headers: Map<String, Any?>?, own: Pair<String, String>?) {
    internal val headers = ArrayList<Pair<String, String>>()

    init {
        require(statusCode in 200..599) { "statusCode must be from 200 to 599, not $statusCode" }
        for ((name, value) in headers ?: emptyMap()) {
            if (own != null && name.equals(own.first, ignoreCase = true)) continue // the helper's own wins
            if (value is Iterable<*>) value.forEach { this.headers.add(name to it.toString()) } // sent once per value
            else this.headers.add(name to value.toString())
        }
        if (own != null) this.headers.add(own)
    }
}

/**
 * The reply helpers: each returns an [RuntimeOutput]; a status outside 200..599 throws at your call. Headers map names
 * to a value, or to a list of values for a header sent once per value (set-cookie).
 */
class RuntimeResponse internal constructor() {
    /** Text; content-type is the shim's default (text/plain) unless the headers give one. */
    fun text(body: String, statusCode: Int = 200, headers: Map<String, Any?>? = null) =
        RuntimeOutput(body.toByteArray(), statusCode, headers, null)

    /** The JSON of [value] (what [Response.json] takes), content-type application/json. */
    fun json(value: Any?, statusCode: Int = 200, headers: Map<String, Any?>? = null) =
        RuntimeOutput(StringBuilder().also { writeJson(value, it, 0) }.toString().toByteArray(), statusCode, headers,
            "content-type" to "application/json")

    /** Bytes as they are. */
    fun binary(body: ByteArray, statusCode: Int = 200, headers: Map<String, Any?>? = null) =
        RuntimeOutput(body.copyOf(), statusCode, headers, null)

    /** 204, no body. */
    fun empty() = RuntimeOutput(ByteArray(0), 204, null, null)

    /** An empty reply with location: [url], 301 unless given. */
    fun redirect(url: String, statusCode: Int = 301, headers: Map<String, Any?>? = null) =
        RuntimeOutput(ByteArray(0), statusCode, headers, "location" to url)

    /** Text as given (open-runtimes' older helper). */
    fun send(body: String, statusCode: Int = 200, headers: Map<String, Any?>? = null) = text(body, statusCode, headers)

    /** Bytes as given (open-runtimes' older helper). */
    fun send(body: ByteArray, statusCode: Int = 200, headers: Map<String, Any?>? = null) = binary(body, statusCode, headers)
}

/**
 * Thrown by a function that cannot run at all (its setup failed): the execution is a 503 with the message in the
 * errors log, as for an entry file that fails to load.
 */
class LoadFailure(message: String, cause: Throwable? = null) : RuntimeException(message, cause)

/** A JSON parser for [RuntimeRequest.bodyJson]: the standard library has none. */
private class JsonParser(private val s: String) {
    private var at = 0

    fun document(): Any? {
        val v = value(0)
        space()
        if (at != s.length) fail("unexpected data after the JSON value")
        return v
    }

    private fun fail(why: String): Nothing =
        throw IllegalArgumentException("the request body is not valid JSON: $why at character $at")

    private fun space() {
        while (at < s.length && s[at] in " \t\r\n") at++
    }

    private fun take(c: Char): Boolean {
        space()
        if (at < s.length && s[at] == c) {
            at++
            return true
        }
        return false
    }

    private fun value(depth: Int): Any? {
        if (depth > 500) fail("nested too deep")
        space()
        if (at >= s.length) fail("unexpected end of input")
        when (s[at]) {
            '{' -> {
                at++
                val map = LinkedHashMap<String, Any?>()
                if (take('}')) return map
                do {
                    space()
                    if (at >= s.length || s[at] != '"') fail("expected a string key")
                    val key = string()
                    if (!take(':')) fail("expected ':'")
                    map[key] = value(depth + 1)
                } while (take(','))
                if (!take('}')) fail("expected ',' or '}'")
                return map
            }
            '[' -> {
                at++
                val list = ArrayList<Any?>()
                if (take(']')) return list
                do list.add(value(depth + 1)) while (take(','))
                if (!take(']')) fail("expected ',' or ']'")
                return list
            }
            '"' -> return string()
        }
        for (word in listOf("true", "false", "null")) {
            if (s.startsWith(word, at)) {
                at += word.length
                return if (word == "null") null else word == "true"
            }
        }
        val start = at
        if (at < s.length && s[at] == '-') at++
        while (at < s.length && s[at] in "0123456789.eE+-") at++
        val number = s.substring(start, at)
        if (!number.matches(Regex("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?"))) fail("unexpected character")
        if (number.any { it in ".eE" }) return java.math.BigDecimal(number)
        val big = java.math.BigInteger(number)
        return if (big.bitLength() < 64) big.toLong() else big
    }

    private fun string(): String {
        at++ // the opening quote
        val out = StringBuilder()
        while (true) {
            if (at >= s.length) fail("unterminated string")
            val c = s[at++]
            if (c == '"') return out.toString()
            if (c < ' ') fail("a control character in a string")
            if (c != '\\') {
                out.append(c)
                continue
            }
            if (at >= s.length) fail("unterminated string")
            when (val e = s[at++]) {
                '"', '\\', '/' -> out.append(e)
                'b' -> out.append('\b')
                'f' -> out.append('\u000c')
                'n' -> out.append('\n')
                'r' -> out.append('\r')
                't' -> out.append('\t')
                'u' -> {
                    if (at + 4 > s.length || !s.substring(at, at + 4).matches(Regex("[0-9a-fA-F]{4}"))) fail("bad \\u escape")
                    out.append(s.substring(at, at + 4).toInt(16).toChar())
                    at += 4
                }
                else -> fail("bad escape")
            }
        }
    }
}

private const val HEADER_MAX = 256

private fun fatal(message: String): Nothing {
    System.err.println("kotlin adapter: $message")
    exitProcess(2)
}

/** "REQ <id> <N>\n" and the body; null on EOF between frames. */
private fun readRequest(input: InputStream): Pair<String, ByteArray>? {
    val line = ByteArrayOutputStream()
    while (true) {
        val c = input.read()
        if (c == '\n'.toInt()) break
        if (c < 0) if (line.size() == 0) return null else fatal("input ended inside a request header")
        if (line.size() >= HEADER_MAX - 1) fatal("a request header is longer than $HEADER_MAX bytes")
        line.write(c)
    }
    val t = line.toString("US-ASCII").split(" ")
    if (t.size < 3 || t[0] != "REQ" || !t[1].matches(Regex("[A-Za-z0-9._-]{1,64}")) || !t.last().matches(Regex("0|[1-9][0-9]{0,8}"))) {
        fatal("bad request header: $line")
    }
    val body = ByteArray(t.last().toInt())
    DataInputStream(input).runCatching { readFully(body) }.onFailure { fatal("input ended inside a request body") }
    return t[1] to body
}

/** The `kv` encoding: records "<tag> <K> <V>\n<K bytes of key><V bytes of value>". */
private fun decode(body: ByteArray): Request {
    val fields = HashMap<String, String>()
    val env = HashMap<String, String>()
    val headers = HashMap<String, String>()
    var at = 0
    while (at < body.size) {
        var nl = at
        while (nl < body.size && body[nl] != '\n'.toByte()) nl++
        val head = String(body, at, nl - at, Charsets.US_ASCII).split(" ")
        val k = head.getOrNull(1)?.toIntOrNull() ?: -1
        val v = head.getOrNull(2)?.toIntOrNull() ?: -1
        if (head.size != 3 || k < 0 || v < 0 || nl + 1 + k + v > body.size) fatal("bad request record")
        val key = String(body, nl + 1, k, Charsets.UTF_8)
        val value = String(body, nl + 1 + k, v, Charsets.UTF_8)
        when (head[0]) {
            "env" -> env[key] = value
            "header" -> headers[key] = value
            else -> fields[head[0]] = value
        }
        at = nl + 1 + k + v
    }
    return Request(env, fields["payload"] ?: "", headers, fields["path"] ?: "", fields["file"] ?: "",
        fields["timeout_ms"]?.toLongOrNull() ?: 0, fields["deadline_ms"]?.toLongOrNull() ?: 0)
}

/** `<head> <M+N>\n`, M bytes of meta and the body, as one frame whatever thread writes. */
private fun writeFrame(out: OutputStream, head: String, body: ByteArray, meta: ByteArray = ByteArray(0)) {
    synchronized(frames) {
        out.write("$head ${meta.size + body.size}\n".toByteArray(Charsets.US_ASCII))
        out.write(meta)
        out.write(body)
        out.flush()
    }
}

/** The stack trace as the JVM prints it, without the frames of reflection and this adapter. */
private fun describe(error: Throwable): String {
    var t: Throwable? = error
    while (t != null) {
        t.stackTrace = t.stackTrace.takeWhile {
            !it.className.startsWith("jdk.internal.reflect.") && !it.className.startsWith("java.lang.reflect.") &&
                !it.className.startsWith("sun.reflect.") && it.className != "runtime.AdapterKt"
        }.toTypedArray()
        t = t.cause
    }
    return StringWriter().also { error.printStackTrace(PrintWriter(it)) }.toString()
}

fun main(args: Array<String>) {
    // The JVM's own streams in UTF-8 whatever the locale, flushed by line so that they are logged as printed.
    System.setOut(PrintStream(FileOutputStream(FileDescriptor.out), true, "UTF-8"))
    System.setErr(PrintStream(FileOutputStream(FileDescriptor.err), true, "UTF-8"))
    if (args.size != 1) fatal("usage: java runtime.AdapterKt <class of the entry file>")
    val input = BufferedInputStream(FileInputStream("/proc/self/fd/4"), 1 shl 16)
    val output = BufferedOutputStream(FileOutputStream("/proc/self/fd/3"), 1 shl 16)
    if (System.getenv("SHIM_PROTOCOL") == "2") serve2(args[0], input, output)

    // The entry file's top-level main(Request, Response): a static method of its file class (IndexKt).
    var missing: String? = null
    val main: Method? = try {
        Class.forName(args[0]).getDeclaredMethod("main", Request::class.java, Response::class.java).also {
            if (!Modifier.isStatic(it.modifiers)) missing = "${args[0]}.main(req, res) is not a top-level function"
            it.isAccessible = true
        }
    } catch (e: ClassNotFoundException) {
        missing = "class ${args[0]} was not found: expected the class of the entry file"; null
    } catch (e: NoSuchMethodException) {
        missing = "the entry file (class ${args[0]}) defines no top-level fun main(req: Request, res: Response)"; null
    }

    writeFrame(output, "READY 1 kv", "kotlin ${KotlinVersion.CURRENT} java ${System.getProperty("java.version")}".toByteArray())
    while (true) {
        val (id, body) = readRequest(input) ?: break
        val req = decode(body)
        val res = Response()
        var failure: String? = null
        if (missing != null) res.notFound(missing!!) else try {
            main!!.invoke(null, req, res)
        } catch (e: InvocationTargetException) {
            failure = describe(e.cause ?: e)
        }
        System.out.flush() // what the request printed is logged before its reply
        when {
            failure != null -> writeFrame(output, "ERR $id 500", failure.toByteArray())
            res.head == null -> writeFrame(output, "ERR $id 500", "main(req, res) returned without calling res.send() or res.json()".toByteArray())
            else -> writeFrame(output, res.head!!.replaceFirst(" ", " $id "), res.body)
        }
    }
    exitProcess(0)
}

// ---- Protocol 2: open-runtimes' v5 API. The shim has computed everything context.req shows and applies the
// contract's rules to the reply (header names and filtering, content-type and charset, log truncation, log
// files); here the entry file's main(context) is found, the context built and bytes moved.

private val frames = Any() // whole frames, whatever thread writes
private var proto: OutputStream? = null
@Volatile private var serving: String? = null // the request being served, null between requests
private const val LOG_LINE_MAX = 1 shl 16 // characters per LOG frame: far past the shim's 8000-character cut

/** One LOG frame while its request is served; afterwards (a thread that outlived it) a line on stderr. */
private fun writeLog(id: String, stream: String, text: String) {
    val line = if (text.length > LOG_LINE_MAX) text.substring(0, LOG_LINE_MAX) else text
    synchronized(frames) {
        if (id == serving) return writeFrame(proto!!, "LOG $id $stream", line.toByteArray())
    }
    System.err.println(line)
}

/**
 * The function's variables are the process environment, and System.getenv() cannot be changed: the shim's own
 * settings (SHIM_*) are taken out of the map behind it. Child processes still inherit them.
 */
private fun hideShimSettings() {
    try {
        val unsafeClass = Class.forName("sun.misc.Unsafe")
        val theUnsafe = unsafeClass.getDeclaredField("theUnsafe").apply { isAccessible = true }
        val unsafe = theUnsafe.get(null)
        val inner = Class.forName("java.util.Collections\$UnmodifiableMap").getDeclaredField("m")
        val offset = unsafeClass.getMethod("objectFieldOffset", java.lang.reflect.Field::class.java).invoke(unsafe, inner) as Long
        val env = unsafeClass.getMethod("getObject", Any::class.java, Long::class.javaPrimitiveType)
            .invoke(unsafe, System.getenv(), offset) as MutableMap<*, *>
        env.keys.removeAll { it.toString().startsWith("SHIM_") }
    } catch (e: Exception) {
        System.err.println("kotlin adapter: the shim's settings stay in System.getenv(): $e")
    }
}

private fun serve2(className: String, input: InputStream, output: OutputStream): Nothing {
    proto = output
    Context.entry = System.getenv("SHIM_ENTRYPOINT") ?: className
    // The entry file's top-level main(context): a static method of its file class (IndexKt).
    var failure: String? = null
    val main: Method? = try {
        Class.forName(className).getDeclaredMethod("main", Context::class.java).also { it.isAccessible = true }
    } catch (e: ClassNotFoundException) {
        failure = "Failed to load entrypoint, file ${Context.entry} does not exist."; null
    } catch (e: NoSuchMethodException) {
        failure = "Function signature invalid. Did you forget to export a 'main' function? (the entry file, class " +
            "$className, has no top-level fun main(context: Context))"; null
    } catch (e: ExceptionInInitializerError) {
        failure = describe(e.cause ?: e); null
    } catch (e: LinkageError) {
        failure = describe(e); null
    }
    if (main != null && !Modifier.isStatic(main.modifiers)) failure = "$className.main(context) is not a top-level function"
    hideShimSettings()
    writeFrame(output, "READY 2 kv", "kotlin ${KotlinVersion.CURRENT} java ${System.getProperty("java.version")}".toByteArray())
    while (true) {
        val (id, meta, raw) = readRequest2(input) ?: break
        var head: String
        var replyMeta = ByteArray(0)
        var body = ByteArray(0)
        if (failure != null) {
            head = "ERR $id 503"
            body = failure.toByteArray()
        } else {
            serving = id
            var result: Any? = null
            var error: String? = null
            var code = 500
            try {
                result = main!!.invoke(null, Context(id, decode2(meta, raw)))
            } catch (e: InvocationTargetException) {
                val cause = e.cause ?: e
                if (cause is LoadFailure) {
                    code = 503
                    error = cause.message ?: ""
                } else {
                    error = describe(cause)
                }
            }
            System.out.flush() // what the request printed is logged before its reply
            if (error == null && result != null && result !is RuntimeOutput) {
                error = "main(context) returned a ${result.javaClass.name}, not a response: return context.res.text(), " +
                    ".json(), .binary(), .redirect() or .empty()"
            }
            when {
                error != null -> {
                    head = "ERR $id $code"
                    body = error.toByteArray()
                }
                result == null -> head = "NONE $id"
                else -> {
                    val reply = result as RuntimeOutput
                    val headers = ByteArrayOutputStream()
                    for ((name, value) in reply.headers) record(headers, "header", name, value)
                    replyMeta = headers.toByteArray()
                    head = "RES $id ${reply.statusCode} ${replyMeta.size}"
                    body = reply.body
                }
            }
        }
        synchronized(frames) {
            serving = null // a log call from now on has no request: it goes to stderr
            writeFrame(output, head, body, replyMeta)
        }
    }
    exitProcess(0)
}

private fun record(out: ByteArrayOutputStream, tag: String, key: String, value: String) {
    val k = key.toByteArray()
    val v = value.toByteArray()
    out.write("$tag ${k.size} ${v.size}\n".toByteArray(Charsets.US_ASCII))
    out.write(k)
    out.write(v)
}

/** "REQ <id> <M> <N>\n", M bytes of metadata, N - M of raw body; null on EOF between frames. */
private fun readRequest2(input: InputStream): Triple<String, ByteArray, ByteArray>? {
    val line = ByteArrayOutputStream()
    while (true) {
        val c = input.read()
        if (c == '\n'.toInt()) break
        if (c < 0) if (line.size() == 0) return null else fatal("input ended inside a request header")
        if (line.size() >= HEADER_MAX - 1) fatal("a request header is longer than $HEADER_MAX bytes")
        line.write(c)
    }
    val t = line.toString("US-ASCII").split(" ")
    val number = Regex("0|[1-9][0-9]{0,8}")
    if (t.size != 4 || t[0] != "REQ" || !t[1].matches(Regex("[A-Za-z0-9._-]{1,64}")) || !t[2].matches(number) ||
        !t[3].matches(number) || t[2].toInt() > t[3].toInt()) {
        fatal("bad request header: $line")
    }
    val meta = ByteArray(t[2].toInt())
    val body = ByteArray(t[3].toInt() - meta.size)
    DataInputStream(input).runCatching { readFully(meta); readFully(body) }.onFailure { fatal("input ended inside a request body") }
    return Triple(t[1], meta, body)
}

/** The `kv` metadata of protocol 2: the request's parts, then `header` and `query` records. */
private fun decode2(meta: ByteArray, body: ByteArray): RuntimeRequest {
    val fields = HashMap<String, String>()
    val headers = LinkedHashMap<String, String>()
    val query = LinkedHashMap<String, String>()
    var at = 0
    while (at < meta.size) {
        var nl = at
        while (nl < meta.size && meta[nl] != '\n'.toByte()) nl++
        val head = String(meta, at, nl - at, Charsets.US_ASCII).split(" ")
        val k = head.getOrNull(1)?.toIntOrNull() ?: -1
        val v = head.getOrNull(2)?.toIntOrNull() ?: -1
        if (head.size != 3 || k < 0 || v < 0 || nl + 1 + k + v > meta.size) fatal("bad request record")
        val key = String(meta, nl + 1, k, Charsets.UTF_8)
        val value = String(meta, nl + 1 + k, v, Charsets.UTF_8)
        when (head[0]) {
            "header" -> headers[key] = value
            "query" -> query[key] = value
            else -> fields[head[0]] = value
        }
        at = nl + 1 + k + v
    }
    return RuntimeRequest(fields, headers, query, body)
}
