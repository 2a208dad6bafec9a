package cases

import (
	"strconv"
	"time"

	shim "runtime-shim/shim"
)

func Slow(req *shim.Request, res *shim.Response) error {
	seconds, err := strconv.ParseFloat(req.Payload, 64)
	if err != nil {
		seconds = 30
	}
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	res.Send("woke")
	return nil
}
