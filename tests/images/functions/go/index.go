// The image test's entry file: the Go runtime calls Main; the seed function is conformance/go/seed.go.
package cases

import shim "runtime-shim/shim"

func Main(req *shim.Request, res *shim.Response) error { return Seed(req, res) }
