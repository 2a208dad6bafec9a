// What loading throwsatload.swift does: it throws.
func loadThrowsAtLoad() throws {
    throw RuntimeError("Load failure")
}
