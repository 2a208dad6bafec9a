// runtime-shim adapter library for Swift 5.7+ on Linux: `serve(main(req:res:))` answers the shim's requests
// with your `func main(req: Request, res: Response) throws` (or `async throws`) over adapter protocol 1 (the v1
// contract), and `serve(main(context:))` with open-runtimes' `func main(context: Context) throws -> RuntimeOutput?` over
// adapter protocol 2 (the v5 contract) (docs/adapter-protocol.md), persistently, one at a time. Foundation only; requests come in the `json`
// encoding. Compiled into the same module as the function (runtimes/swift-*/build.sh).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One execution's input. `path` and `file` are what the executor named: a compiled runtime serves the same
/// function for any, so only a router (like the conformance dispatcher) looks at them.
public final class Request {
    public let env: [String: String]
    public let payload: String
    public let headers: [String: String]
    public let path: String, file: String
    public let timeoutMs: Int, deadlineMs: Int

    init(_ m: [String: Any]) {
        env = m["env"] as? [String: String] ?? [:]
        payload = m["payload"] as? String ?? ""
        headers = m["headers"] as? [String: String] ?? [:]
        path = m["path"] as? String ?? ""
        file = m["file"] as? String ?? ""
        timeoutMs = m["timeout_ms"] as? Int ?? 0
        deadlineMs = m["deadline_ms"] as? Int ?? 0
    }
}

/// An error that says where it was thrown (Swift errors carry no stack trace): `throw RuntimeError("no user")`.
public struct RuntimeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String, fileID: String = #fileID, line: Int = #line, function: String = #function) {
        description = "\(message)\n    at \(function) (\(fileID):\(line))"
    }
}

/// The reply: the last `send` or `json` before `main` returns wins.
public final class Response {
    var head: String? // "RES <status> <type>" or "ERR 404"
    var body = Data()
    var problem: String? // a bad status or a value with no JSON form: a 500 that says so

    /// `text` as text/plain; charset=utf-8.
    public func send(_ text: String, _ status: Int = 200) {
        reply("text", Data(text.utf8), status)
    }

    /// The JSON of `value`: dictionaries with String keys, arrays, strings, numbers, booleans, nil/NSNull,
    /// optionals, and any Encodable. (The dictionary and array overloads let a literal mix value types.)
    public func json(_ value: [String: Any?], _ status: Int = 200) {
        json(value as Any?, status)
    }

    public func json(_ value: [Any?], _ status: Int = 200) {
        json(value as Any?, status)
    }

    public func json(_ value: Any?, _ status: Int = 200) {
        var out = ""
        do {
            try Response.write(value, &out)
            reply("json", Data(out.utf8), status)
        } catch {
            problem = "res.json(): \(error)"
        }
    }

    /// Answers as the shim's "not found" (404), for a function that routes on `req.file`.
    public func notFound(_ message: String) {
        head = "ERR 404"
        body = Data(message.utf8)
    }

    private func reply(_ type: String, _ data: Data, _ status: Int) {
        guard (200...599).contains(status) else { problem = "status must be from 200 to 599, not \(status)"; return }
        head = "RES \(status) \(type)"
        body = data
    }

    static func write(_ value: Any?, _ out: inout String) throws {
        guard let value = value else { out += "null"; return }
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional { return try write(mirror.children.first?.value, &out) }
        switch value {
        case is NSNull: out += "null"
        case let b as Bool: out += b ? "true" : "false"
        case let j as JSONValue: try j.write(&out)
        case let n as Int: out += String(n)
        case let n as Double where n.isFinite: out += String(n)
        case let n as Float where n.isFinite: out += String(n)
        case let s as String: quote(s, &out)
        case let d as [String: Any?]:
            out += "{"
            for (i, key) in d.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                quote(key, &out)
                out += ":"
                try write(d[key] ?? nil, &out)
            }
            out += "}"
        case let a as [Any?]:
            out += "["
            for (i, item) in a.enumerated() {
                if i > 0 { out += "," }
                try write(item, &out)
            }
            out += "]"
        case let e as Encodable:
            out += String(decoding: try JSONEncoder().encode(e), as: UTF8.self)
        default:
            throw RuntimeError("a \(type(of: value)) has no JSON form")
        }
    }

    static func quote(_ s: String, _ out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}

private let headerMax = 256
private var protoIn: Int32 = -1, protoOut: Int32 = -1
private var inBuf = [UInt8](repeating: 0, count: 65536)
private var inAt = 0, inLen = 0

private func fatal(_ message: String) -> Never {
    FileHandle.standardError.write(Data("swift adapter: \(message)\n".utf8))
    exit(2)
}

private func fill() -> Bool {
    var n: Int
    let capacity = inBuf.count
    repeat { n = read(protoIn, &inBuf, capacity) } while n < 0 && errno == EINTR
    inAt = 0
    inLen = max(n, 0)
    return n > 0
}

/// "REQ <id> <N>\n" and the body; nil on EOF between frames. Under protocol 2, "REQ <id> <M> <N>\n": `meta` is M.
private func readRequest(_ meta: UnsafeMutablePointer<Int>? = nil) -> (String, Data)? {
    var line = [UInt8]()
    while true {
        if inAt == inLen && !fill() {
            if line.isEmpty { return nil }
            fatal("input ended inside a request header")
        }
        let c = inBuf[inAt]
        inAt += 1
        if c == 10 { break }
        line.append(c)
        if line.count >= headerMax { fatal("a request header is longer than \(headerMax) bytes") }
    }
    let t = String(decoding: line, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false).map(String.init)
    let idOK = t.count >= 3 && (1...64).contains(t[1].count) && t[1].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    guard t.count >= 3, t[0] == "REQ", idOK, let n = Int(t[t.count - 1]), n >= 0, t[t.count - 1] == String(n) else {
        fatal("bad request header: \(t.joined(separator: " "))")
    }
    if let meta = meta {
        guard t.count == 4, let m = Int(t[2]), m >= 0, t[2] == String(m), m <= n else {
            fatal("bad request header: \(t.joined(separator: " "))")
        }
        meta.pointee = m
    }
    var body = Data(capacity: n)
    while body.count < n {
        if inAt == inLen && !fill() { fatal("input ended inside a request body") }
        let take = min(inLen - inAt, n - body.count)
        body.append(contentsOf: inBuf[inAt..<inAt + take])
        inAt += take
    }
    return (t[1], body)
}

private let frames = NSRecursiveLock() // whole frames, whatever thread writes; a LOG frame checks its id under it

private func writeFrame(_ head: String, _ body: Data, _ meta: Data = Data()) {
    frames.lock()
    defer { frames.unlock() }
    let frame = Data("\(head) \(meta.count + body.count)\n".utf8) + meta + body
    frame.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
        var done = 0
        while done < raw.count {
            let n = write(protoOut, raw.baseAddress! + done, raw.count - done)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { fatal("cannot write to the shim") }
            done += n
        }
    }
}

/// Serves `main` until the shim closes stdin. The runtime's build script writes the `@main` that calls it.
public func serve(_ main: (Request, Response) async throws -> Void) async -> Never {
    takeProtocolFds()
    if ProcessInfo.processInfo.environment["SHIM_PROTOCOL"] == "2" {
        await serve2(nil)
    }
    writeFrame("READY 1 json", Data("swift \(swiftVersion)".utf8))
    while case let (id, body)? = readRequest() {
        guard let message = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else { fatal("bad request body") }
        let req = Request(message), res = Response()
        var failure: String?
        do {
            try await main(req, res)
        } catch {
            failure = error is RuntimeError ? "\(error)" : "\(type(of: error)): \(error)"
        }
        fflush(stdout) // what the request printed is logged before its reply
        if let failure = failure ?? res.problem {
            writeFrame("ERR \(id) 500", Data(failure.utf8))
        } else if let head = res.head {
            let parts = head.split(separator: " ", maxSplits: 1)
            writeFrame("\(parts[0]) \(id) \(parts[1])", res.body)
        } else {
            writeFrame("ERR \(id) 500", Data("main(req:res:) returned without calling res.send() or res.json()".utf8))
        }
    }
    exit(0)
}

#if swift(>=6.0)
private let swiftVersion = "6+"
#else
private let swiftVersion = "5"
#endif

/// The protocol owns fds 0 and 1: keep private copies (closed in children), then point fd 1 at stderr and fd 0
/// at /dev/null, so print(), C code and child processes can neither write nor read a frame.
private func takeProtocolFds() {
    protoIn = fcntl(0, F_DUPFD_CLOEXEC, 3)
    protoOut = fcntl(1, F_DUPFD_CLOEXEC, 3)
    let null = open("/dev/null", O_RDONLY)
    if protoIn < 0 || protoOut < 0 || null < 0 || dup2(2, 1) < 0 || dup2(null, 0) < 0 {
        fatal("cannot move the protocol off fds 0 and 1")
    }
    close(null)
    setvbuf(stdout, nil, _IOLBF, 0) // print() reaches the log line by line
}

// ---- Protocol 2: open-runtimes' v5 API, `main(context:)`. The shim has computed everything `context.req` shows
// and applies the contract's rules to the reply (header names and filtering, content-type and charset, log
// truncation, log files); here the context is built and bytes move.

/// A JSON value with its object keys in order and its numbers as written: what `bodyJson` gives, and what
/// `res.json` writes back as it was.
public indirect enum JSONValue {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// The value of a key of an object (nil for another kind, or no such key).
    public subscript(key: String) -> JSONValue? {
        if case let .object(pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }

    /// The text of a `.string` (nil for another kind).
    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    func write(_ out: inout String) throws {
        switch self {
        case let .object(pairs):
            out += "{"
            for (i, pair) in pairs.enumerated() {
                if i > 0 { out += "," }
                Response.quote(pair.0, &out)
                out += ":"
                try pair.1.write(&out)
            }
            out += "}"
        case let .array(items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                try item.write(&out)
            }
            out += "]"
        case let .string(s): Response.quote(s, &out)
        case let .number(n): out += n
        case let .bool(b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }

    /// Parses JSON text; invalid JSON throws a RuntimeError that says so.
    static func parse(_ text: String) throws -> JSONValue {
        var p = JSONParser(Array(text.unicodeScalars))
        let value = try p.value(0)
        p.space()
        if p.at != p.s.count { throw p.fail("unexpected data after the JSON value") }
        return value
    }
}

private struct JSONParser {
    let s: [Unicode.Scalar]
    var at = 0

    init(_ s: [Unicode.Scalar]) { self.s = s }

    func fail(_ why: String) -> RuntimeError {
        RuntimeError("the request body is not valid JSON: \(why) at character \(at)")
    }

    mutating func space() {
        while at < s.count, " \t\r\n".unicodeScalars.contains(s[at]) { at += 1 }
    }

    mutating func take(_ c: Unicode.Scalar) -> Bool {
        space()
        if at < s.count, s[at] == c { at += 1; return true }
        return false
    }

    mutating func value(_ depth: Int) throws -> JSONValue {
        if depth > 500 { throw fail("nested too deep") }
        space()
        guard at < s.count else { throw fail("unexpected end of input") }
        switch s[at] {
        case "{":
            at += 1
            var pairs: [(String, JSONValue)] = []
            if take("}") { return .object(pairs) }
            repeat {
                space()
                guard at < s.count, s[at] == "\"" else { throw fail("expected a string key") }
                let key = try string()
                guard take(":") else { throw fail("expected ':'") }
                pairs.append((key, try value(depth + 1)))
            } while take(",")
            guard take("}") else { throw fail("expected ',' or '}'") }
            return .object(pairs)
        case "[":
            at += 1
            var items: [JSONValue] = []
            if take("]") { return .array(items) }
            repeat { items.append(try value(depth + 1)) } while take(",")
            guard take("]") else { throw fail("expected ',' or ']'") }
            return .array(items)
        case "\"":
            return .string(try string())
        default:
            let literals: [(String, JSONValue)] = [("true", .bool(true)), ("false", .bool(false)), ("null", .null)]
            for (word, literal) in literals {
                let w = Array(word.unicodeScalars)
                if at + w.count <= s.count, Array(s[at..<at + w.count]) == w {
                    at += w.count
                    return literal
                }
            }
            let start = at
            while at < s.count, "-+.eE0123456789".unicodeScalars.contains(s[at]) { at += 1 }
            var number = ""
            number.unicodeScalars.append(contentsOf: s[start..<at])
            guard number.range(of: #"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"#, options: .regularExpression) != nil else {
                throw fail("unexpected character")
            }
            return .number(number)
        }
    }

    mutating func string() throws -> String {
        at += 1 // the opening quote
        var out = ""
        var pending: UInt32? // a high surrogate waiting for its low half
        while true {
            guard at < s.count else { throw fail("unterminated string") }
            let c = s[at]
            at += 1
            if c == "\"" { return out }
            if c.value < 0x20 { throw fail("a control character in a string") }
            if c != "\\" { out.unicodeScalars.append(c); continue }
            guard at < s.count else { throw fail("unterminated string") }
            let e = s[at]
            at += 1
            switch e {
            case "\"", "\\", "/": out.unicodeScalars.append(e)
            case "b": out += "\u{8}"
            case "f": out += "\u{c}"
            case "n": out += "\n"
            case "r": out += "\r"
            case "t": out += "\t"
            case "u":
                guard at + 4 <= s.count, let code = UInt32(String(String.UnicodeScalarView(s[at..<at + 4])), radix: 16) else {
                    throw fail("bad \\u escape")
                }
                at += 4
                if (0xD800...0xDBFF).contains(code) {
                    pending = code
                } else if (0xDC00...0xDFFF).contains(code), let high = pending {
                    pending = nil
                    out.unicodeScalars.append(Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00))!)
                } else {
                    out.unicodeScalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                }
                continue
            default: throw fail("bad escape")
            }
            if pending != nil { out += "\u{FFFD}"; pending = nil }
        }
    }
}

/// One v5 execution: the request, the reply helpers and the execution's log.
public final class Context {
    public let req: RuntimeRequest
    public let res = RuntimeResponse()
    let id: String

    /// The entry file the shim names under v5 (SHIM_ENTRYPOINT, from OPEN_RUNTIMES_ENTRYPOINT), which `serve`
    /// removes from the environment with the shim's other settings. A runtime is built from one entry file and
    /// serves it whatever this says; a router (like the conformance dispatcher) may look at it.
    public static var entrypoint: String { entry }

    init(_ id: String, _ req: RuntimeRequest) {
        self.id = id
        self.req = req
    }

    /// One line of the logs file: the values joined by one space, strings as they are, others as compact JSON.
    public func log(_ values: Any?...) { writeLog(id, "log", values) }

    /// One line of the errors file, as `log`.
    public func error(_ values: Any?...) { writeLog(id, "error", values) }
}

private var entry = ""
private var serving: String? // the request being served, nil between requests
private let logLineMax = 1 << 16 // characters per LOG frame: far past the shim's 8000-character cut

private func writeLog(_ id: String, _ stream: String, _ values: [Any?]) {
    var line = values.map { (v: Any?) -> String in
        if let s = v as? String { return s }
        var out = ""
        do { try Response.write(v, &out) } catch { return v.map { "\($0)" } ?? "null" } // no JSON form: as Swift prints it
        return out
    }.joined(separator: " ")
    if line.count > logLineMax { line = String(line.prefix(logLineMax)) }
    frames.lock()
    defer { frames.unlock() }
    if serving == id {
        writeFrame("LOG \(id) \(stream)", Data(line.utf8))
    } else {
        FileHandle.standardError.write(Data("\(line)\n".utf8)) // its execution has ended: native output instead
    }
}

/// The request as the shim computed it; the body is decoded only when asked.
public final class RuntimeRequest {
    public let method, scheme, host, path, queryString, url: String
    public let port: Int
    /// Names lower-cased; a name sent several times has its values joined with ", ".
    public let headers: [String: String]
    public let query: [String: String]
    let raw: Data
    let jsonBody: Bool

    init(_ m: [String: Any], _ raw: Data) {
        method = m["method"] as? String ?? ""
        scheme = m["scheme"] as? String ?? ""
        host = m["host"] as? String ?? ""
        port = m["port"] as? Int ?? 0
        path = m["path"] as? String ?? ""
        queryString = m["query_string"] as? String ?? ""
        url = m["url"] as? String ?? ""
        headers = m["headers"] as? [String: String] ?? [:]
        query = m["query"] as? [String: String] ?? [:]
        jsonBody = m["json_body"] as? Bool ?? false
        self.raw = raw
    }

    /// The body as it came.
    public var bodyBinary: Data { raw }

    /// The body as UTF-8 text (malformed bytes become U+FFFD).
    public var bodyText: String { String(decoding: raw, as: UTF8.self) }

    /// `bodyText` (open-runtimes' older name).
    public var bodyRaw: String { bodyText }

    /// The body parsed (key order and numbers as written); invalid or empty JSON throws.
    public var bodyJson: JSONValue { get throws { try JSONValue.parse(bodyText) } }

    /// `bodyJson` when the content-type is application/json (an empty object for an empty body), else the text
    /// as a `.string`.
    public var body: JSONValue {
        get throws {
            if !jsonBody { return .string(bodyText) }
            return raw.isEmpty ? .object([]) : try bodyJson
        }
    }
}

/// A reply, as `main` returns it.
public struct RuntimeOutput {
    public let body: Data
    public let statusCode: Int
    public let headers: [(String, String)]
}

/// The reply helpers: each returns an `RuntimeOutput`; a status outside 200...599 throws. Headers map names to a String,
/// or to an array of Strings for a header sent once per value (set-cookie).
public final class RuntimeResponse {
    /// Text; content-type is the shim's default (text/plain) unless the headers give one.
    public func text(_ body: String, _ statusCode: Int = 200, _ headers: [String: Any] = [:]) throws -> RuntimeOutput {
        try output(Data(body.utf8), statusCode, headers, nil)
    }

    /// The JSON of `value` (what `res.json` takes, and a JSONValue as it is), content-type application/json.
    public func json(_ value: Any?, _ statusCode: Int = 200, _ headers: [String: Any] = [:]) throws -> RuntimeOutput {
        var out = ""
        try Response.write(value, &out)
        return try output(Data(out.utf8), statusCode, headers, ("content-type", "application/json"))
    }

    /// The JSON of a dictionary literal that mixes value types.
    public func json(_ value: [String: Any?], _ statusCode: Int = 200, _ headers: [String: Any] = [:]) throws -> RuntimeOutput {
        try json(value as Any?, statusCode, headers)
    }

    /// Bytes as they are.
    public func binary(_ bytes: Data, _ statusCode: Int = 200, _ headers: [String: Any] = [:]) throws -> RuntimeOutput {
        try output(bytes, statusCode, headers, nil)
    }

    /// 204, no body.
    public func empty() -> RuntimeOutput { RuntimeOutput(body: Data(), statusCode: 204, headers: []) }

    /// An empty reply with location: `url`, 301 unless given.
    public func redirect(_ url: String, _ statusCode: Int = 301, _ headers: [String: Any] = [:]) throws -> RuntimeOutput {
        try output(Data(), statusCode, headers, ("location", url))
    }

    /// Text as given (open-runtimes' older helper).
    public func send(_ body: String, _ statusCode: Int = 200, _ headers: [String: Any] = [:]) throws -> RuntimeOutput {
        try text(body, statusCode, headers)
    }

    /// Bytes as given (open-runtimes' older helper).
    public func send(_ body: Data, _ statusCode: Int = 200, _ headers: [String: Any] = [:]) throws -> RuntimeOutput {
        try binary(body, statusCode, headers)
    }

    private func output(_ body: Data, _ statusCode: Int, _ headers: [String: Any], _ own: (String, String)?) throws -> RuntimeOutput {
        guard (200...599).contains(statusCode) else { throw RuntimeError("statusCode must be from 200 to 599, not \(statusCode)") }
        var pairs: [(String, String)] = []
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            if let own = own, name.lowercased() == own.0 { continue } // the helper's own wins
            if let values = value as? [Any] {
                for one in values { pairs.append((name, "\(one)")) } // sent once per value
            } else {
                pairs.append((name, "\(value)"))
            }
        }
        if let own = own { pairs.append(own) }
        return RuntimeOutput(body: body, statusCode: statusCode, headers: pairs)
    }
}

/// Thrown by a function that cannot run at all (its setup failed): the execution is a 503 with the message in the
/// errors log, as for an entry file that fails to load.
public struct LoadFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Serves a v5 `main(context:)` until the shim closes stdin. The runtime's build script writes the `@main` that
/// calls it.
public func serve(_ main: @escaping (Context) async throws -> RuntimeOutput?) async -> Never {
    takeProtocolFds()
    if ProcessInfo.processInfo.environment["SHIM_PROTOCOL"] == "2" { await serve2(main) }
    writeFrame("READY 1 json", Data("swift \(swiftVersion)".utf8))
    while case let (id, _)? = readRequest() {
        writeFrame("ERR \(id) 404", Data(("main is main(context:), the v5 API; the v1 contract calls "
            + "func main(req: Request, res: Response)").utf8))
    }
    exit(0)
}

private func serve2(_ main: ((Context) async throws -> RuntimeOutput?)?) async -> Never {
    entry = ProcessInfo.processInfo.environment["SHIM_ENTRYPOINT"] ?? ""
    // The function's variables are the process environment; the adapter's settings are not among them.
    for name in ProcessInfo.processInfo.environment.keys where name.hasPrefix("SHIM_") { unsetenv(name) }
    writeFrame("READY 2 json", Data("swift \(swiftVersion)".utf8))
    var m = 0
    while case let (id, all)? = readRequest(&m) {
        guard let meta = (try? JSONSerialization.jsonObject(with: all.prefix(m))) as? [String: Any] else { fatal("bad request metadata") }
        let context = Context(id, RuntimeRequest(meta, Data(all.dropFirst(m))))
        var head = "ERR \(id) 500", headers = Data(), body = Data()
        frames.lock()
        serving = id
        frames.unlock()
        if let main = main {
            do {
                if let reply = try await main(context) {
                    headers = Data(("[" + reply.headers.map { pair -> String in
                        var out = "["
                        Response.quote(pair.0, &out)
                        out += ","
                        Response.quote(pair.1, &out)
                        return out + "]"
                    }.joined(separator: ",") + "]").utf8)
                    head = "RES \(id) \(reply.statusCode) \(headers.count)"
                    body = reply.body
                } else {
                    head = "NONE \(id)"
                }
            } catch let failure as LoadFailure {
                head = "ERR \(id) 503"
                body = Data(failure.description.utf8)
            } catch {
                body = Data((error is RuntimeError ? "\(error)" : "\(type(of: error)): \(error)").utf8)
            }
        } else {
            head = "ERR \(id) 503"
            body = Data(("Function signature invalid. Did you forget to export a 'main' function? (main is the v1 "
                + "main(req:res:); the v5 contract calls func main(context: Context) throws -> RuntimeOutput?)").utf8)
        }
        fflush(stdout) // what the request printed is logged before its reply
        frames.lock()
        serving = nil // a log call from now on has no request: it goes to stderr
        writeFrame(head, body, headers)
        frames.unlock()
    }
    exit(0)
}
