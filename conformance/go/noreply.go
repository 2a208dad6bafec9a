package cases

import shim "runtime-shim/shim"

func NoReply(req *shim.Request, res *shim.Response) error {
	return nil // without res.Send() or res.JSON()
}
