// The v5 image test's go function (tests/images/v5.sh): proves the install command ran in the build folder
// before the compile (v5dep.go, which it writes, is part of this package) and the v5 context API.
package handler

import (
	"fmt"

	shim "runtime-shim/shim"
)

func Main(ctx *shim.Context) (*shim.RuntimeOutput, error) {
	ctx.Log("go function log", map[string]int{"n": 1})
	ctx.Error("go function error line")
	fmt.Println("go native print")
	body, err := ctx.Req.Body()
	if err != nil {
		return nil, err
	}
	return ctx.Res.JSON(map[string]any{
		"runtime":    "go",
		"method":     ctx.Req.Method,
		"path":       ctx.Req.Path,
		"query":      ctx.Req.Query,
		"body":       body,
		"built":      v5Built,
		"dependency": v5Dependency,
	}, 201, map[string]string{"x-v5-test": "yes"}), nil
}
