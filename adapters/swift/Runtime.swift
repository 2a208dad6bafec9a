// runtime-shim adapter library for Swift 5.7+ on Linux: `serve(main(req:res:))` answers the shim's requests
// with your `func main(req: Request, res: Response) throws` (or `async throws`) over adapter protocol 1
// (docs/adapter-protocol.md), persistently, one at a time. Foundation only; requests come in the `json`
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

    private static func write(_ value: Any?, _ out: inout String) throws {
        guard let value = value else { out += "null"; return }
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional { return try write(mirror.children.first?.value, &out) }
        switch value {
        case is NSNull: out += "null"
        case let b as Bool: out += b ? "true" : "false"
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

    private static func quote(_ s: String, _ out: inout String) {
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

/// "REQ <id> <N>\n" and the body; nil on EOF between frames.
private func readRequest() -> (String, Data)? {
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
    var body = Data(capacity: n)
    while body.count < n {
        if inAt == inLen && !fill() { fatal("input ended inside a request body") }
        let take = min(inLen - inAt, n - body.count)
        body.append(contentsOf: inBuf[inAt..<inAt + take])
        inAt += take
    }
    return (t[1], body)
}

private func writeFrame(_ head: String, _ body: Data) {
    let frame = Data("\(head) \(body.count)\n".utf8) + body
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
    // The protocol owns fds 0 and 1: keep private copies (closed in children), then point fd 1 at stderr and
    // fd 0 at /dev/null, so print(), C code and child processes can neither write nor read a frame.
    protoIn = fcntl(0, F_DUPFD_CLOEXEC, 3)
    protoOut = fcntl(1, F_DUPFD_CLOEXEC, 3)
    let null = open("/dev/null", O_RDONLY)
    if protoIn < 0 || protoOut < 0 || null < 0 || dup2(2, 1) < 0 || dup2(null, 0) < 0 {
        fatal("cannot move the protocol off fds 0 and 1")
    }
    close(null)
    setvbuf(stdout, nil, _IOLBF, 0) // print() reaches the log line by line
    #if swift(>=6.0)
    let version = "6+"
    #else
    let version = "5"
    #endif
    writeFrame("READY 1 json", Data("swift \(version)".utf8))
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
