package cases

import shim "runtime-shim/shim"

func Send(req *shim.Request, res *shim.Response) error {
	res.Send("héllo wörld ✓ "+req.Payload, 201)
	return nil
}
