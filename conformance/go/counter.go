package cases

import shim "runtime-shim/shim"

var count int // lives as long as the runtime process

func Counter(req *shim.Request, res *shim.Response) error {
	count++
	res.JSON(map[string]int{"count": count})
	return nil
}
