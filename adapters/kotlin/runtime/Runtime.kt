// runtime-shim adapter library for Kotlin/JVM: serves the user's top-level `fun main(req: Request, res: Response)`
// over adapter protocol 1 (docs/adapter-protocol.md), persistently, one request at a time. Standard library
// only; requests come in the `kv` encoding. Kotlin 1.3+ on Java 11+.
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
        write(value, out, 0)
        head = "RES ${checked(status)} json"
        body = out.toString().toByteArray()
    }

    /** Answers as the shim's "not found" (404), for a function that routes on [Request.file]. */
    fun notFound(message: String) {
        head = "ERR 404"
        body = message.toByteArray()
    }

    private fun checked(status: Int) = status.also { require(it in 200..599) { "status must be from 200 to 599, not $it" } }

    private fun write(v: Any?, out: StringBuilder, depth: Int) {
        require(depth <= 200) { "res.json(): nested too deep (a cycle?)" }
        when (v) {
            null -> out.append("null")
            is Boolean, is Int, is Long, is Short, is Byte, is java.math.BigInteger, is java.math.BigDecimal -> out.append(v)
            is Number -> v.toDouble().let { d ->
                require(!d.isNaN() && !d.isInfinite()) { "res.json(): $d is not JSON" }
                out.append(if (v is Float) v.toString() else d.toString())
            }
            is CharSequence, is Char, is Enum<*> -> quote(v.toString(), out)
            is Map<*, *> -> {
                out.append('{')
                for ((i, entry) in v.entries.withIndex()) {
                    if (i > 0) out.append(',')
                    quote(entry.key.toString(), out)
                    out.append(':')
                    write(entry.value, out, depth + 1)
                }
                out.append('}')
            }
            is Pair<*, *> -> write(listOf(v.first, v.second), out, depth)
            is Iterable<*> -> {
                out.append('[')
                for ((i, item) in v.withIndex()) {
                    if (i > 0) out.append(',')
                    write(item, out, depth + 1)
                }
                out.append(']')
            }
            is Array<*> -> write(v.asList(), out, depth)
            is IntArray -> write(v.asList(), out, depth)
            is LongArray -> write(v.asList(), out, depth)
            is DoubleArray -> write(v.asList(), out, depth)
            is BooleanArray -> write(v.asList(), out, depth)
            else -> throw IllegalArgumentException("res.json(): a ${v.javaClass.name} has no JSON form")
        }
    }

    private fun quote(s: String, out: StringBuilder) {
        out.append('"')
        for (c in s) when {
            c == '"' || c == '\\' -> out.append('\\').append(c)
            c == '\n' -> out.append("\\n")
            c < ' ' -> out.append("\\u00").append(Character.forDigit(c.toInt() shr 4, 16)).append(Character.forDigit(c.toInt() and 15, 16))
            else -> out.append(c)
        }
        out.append('"')
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

private fun writeFrame(out: OutputStream, head: String, body: ByteArray) {
    out.write("$head ${body.size}\n".toByteArray(Charsets.US_ASCII))
    out.write(body)
    out.flush()
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
