// Test-only entry file: one runtime serves every case function, picked by the base name of the request's
// file (seed.swift -> seed). The conformance kit names a file per case; a real runtime has one main.
let functions: [String: (Request, Response) async throws -> Void] = [
    "seed": seed, "send": sendText, "jsonreply": jsonReply, "echo": echo, "throws": throwing, "noisy": noisy,
    "slow": slow, "noreply": noReply, "crash": crash, "counter": counter,
]

func main(req: Request, res: Response) async throws {
    let base = req.file.split(separator: "/").last.map(String.init) ?? ""
    let name = String(base.split(separator: ".", omittingEmptySubsequences: false).first ?? "")
    guard let function = functions[name] else {
        return res.notFound("\(req.path)/\(req.file): this runtime has no function for that file")
    }
    try await function(req, res)
}
