package cases

// What throwsatload.go does while it loads: it fails, and the failure is its load error.
func throwsAtLoad() string {
	return "error: Load failure"
}
