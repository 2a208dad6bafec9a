package cases

import shim "runtime-shim/shim"

// Compiles, but the function has the wrong name: the dispatcher knows no Main here and answers 404.
func Handler(req *shim.Request, res *shim.Response) error {
	res.Send("never called")
	return nil
}
