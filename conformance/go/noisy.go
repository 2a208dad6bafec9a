package cases

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	shim "runtime-shim/shim"
)

func Noisy(req *shim.Request, res *shim.Response) error {
	p := req.Payload
	fmt.Println("noisy-stdout " + p)
	fmt.Fprintln(os.Stderr, "noisy-stderr "+p)
	// The child inherits the runtime's stdio; the payload goes in as $1, not spliced into the script.
	cmd := exec.Command("sh", "-c", `echo noisy-child "$1"; echo noisy-child-err "$1" >&2`, "sh", p)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	if _, err := syscall.Write(1, []byte("noisy-fd1 "+p+"\n")); err != nil {
		return err
	}
	res.Send("quiet " + p)
	return nil
}
