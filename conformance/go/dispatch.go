// Package cases holds the conformance case functions. Main is the test-only entry: one runtime serves every
// case, picked by the base name of the request's file (seed.go -> Seed). A real runtime has one Main.
package cases

import (
	"path"
	"strings"

	shim "runtime-shim/shim"
)

var functions = map[string]shim.Handler{
	"seed": Seed, "send": Send, "jsonreply": JSONReply, "echo": Echo, "throws": Throws, "noisy": Noisy,
	"slow": Slow, "noreply": NoReply, "crash": Crash, "counter": Counter,
}

func Main(req *shim.Request, res *shim.Response) error {
	name, _, _ := strings.Cut(path.Base(req.File), ".")
	if f, ok := functions[name]; ok {
		return f(req, res)
	}
	res.NotFound(req.Path + "/" + req.File + ": this runtime has no function for that file")
	return nil
}
