// What loading noexport.swift does: it prints natively, and it has no main.
func loadNoExport() {
    print("Hello World")
}
