package cases

import (
	"os"

	shim "runtime-shim/shim"
)

func Crash(req *shim.Request, res *shim.Response) error {
	os.Exit(3)
	return nil
}
