// Test-only entry file. A compiled runtime is one program, so this main stands in for loading the entry file the
// shim names (Context.entrypoint): main.swift runs its function (actions(context:)), the others fail to load as
// the kit expects (noexport.swift prints and has no main, throwsatload.swift throws), and any other name is a
// missing file. A real runtime has one main.
private var noexportLoaded = false

func main(context: Context) async throws -> RuntimeOutput? {
    let entry = Context.entrypoint
    let base = entry.split(separator: "/").last.map(String.init) ?? ""
    switch String(base.split(separator: ".", omittingEmptySubsequences: false).first ?? "") {
    case "main":
        return try await actions(context: context)
    case "noexport":
        if !noexportLoaded { loadNoExport() }
        noexportLoaded = true
        throw LoadFailure("Function signature invalid. Did you forget to export a 'main' function?")
    case "throwsatload":
        do {
            try loadThrowsAtLoad()
        } catch {
            throw LoadFailure("\(error)")
        }
    default:
        break
    }
    throw LoadFailure("Failed to load entrypoint, file \(entry) does not exist.")
}
