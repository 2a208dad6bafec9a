package cases

import shim "runtime-shim/shim"

func JSONReply(req *shim.Request, res *shim.Response) error {
	res.JSON(map[string]any{
		"nested":  map[string]any{"list": []any{1, 2.5, "three", true, nil}, "unicode": "✓"},
		"payload": req.Payload,
	}, 202)
	return nil
}
