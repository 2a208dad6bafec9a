package cases

import shim "runtime-shim/shim"

func innerHelper() {
	panic("boom from user code")
}

func Throws(req *shim.Request, res *shim.Response) error {
	innerHelper()
	res.Send("unreachable")
	return nil
}
