package cases

import shim "runtime-shim/shim"

func Echo(req *shim.Request, res *shim.Response) error {
	res.JSON(map[string]any{"env": req.Env, "payload": req.Payload, "headers": req.Headers})
	return nil
}
