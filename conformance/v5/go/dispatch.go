// Package cases holds the v5 conformance function (main.go) and the entry files some cases start the shim
// with (noexport.go, throwsatload.go). A compiled runtime is one program, so this test-only Main stands in for
// loading the entry file the shim names (shim.Entrypoint()): main.go runs its function, the others fail to load
// as the kit expects, and any other name is a missing file. A real runtime has one Main.
package cases

import (
	"path"
	"strings"
	"sync"

	shim "runtime-shim/shim"
)

// What loading noexport.go prints, once: at the first request (a package's init runs before Serve has moved the
// protocol off stdout).
var loadNoExport sync.Once

func Main(ctx *shim.Context) (*shim.RuntimeOutput, error) {
	entry := shim.Entrypoint()
	stem, _, _ := strings.Cut(path.Base(entry), ".")
	switch stem {
	case "main":
		return Actions(ctx)
	case "noexport":
		loadNoExport.Do(noExportLoads)
		return nil, &shim.LoadError{Message: "Function signature invalid. Did you forget to export a 'main' function?"}
	case "throwsatload":
		return nil, &shim.LoadError{Message: throwsAtLoad()}
	}
	return nil, &shim.LoadError{Message: "Failed to load entrypoint, file " + entry + " does not exist."}
}
