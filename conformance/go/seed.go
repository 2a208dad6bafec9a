package cases

import shim "runtime-shim/shim"

func Seed(req *shim.Request, res *shim.Response) error {
	var env1 any // null when ENV1 is not set
	if v, ok := req.Env["ENV1"]; ok {
		env1 = v
	}
	res.JSON(map[string]any{"normal": "Hello World!", "env1": env1, "payload": req.Payload})
	return nil
}
