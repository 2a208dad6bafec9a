// Package shim is the runtime-shim adapter library for Go: Serve answers the shim's requests with your
// Main(req, res) over adapter protocol 1 (docs/adapter-protocol.md), persistently, one at a time.
// Standard library only; requests come in the `json` encoding.
package shim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// Request is one execution's input. Path and File are what the executor named: a compiled runtime serves the
// same function for any, so only a router (like the conformance dispatcher) looks at them.
type Request struct {
	Env        map[string]string `json:"env"`
	Payload    string            `json:"payload"`
	Headers    map[string]string `json:"headers"`
	Path       string            `json:"path"`
	File       string            `json:"file"`
	TimeoutMs  int64             `json:"timeout_ms"`
	DeadlineMs int64             `json:"deadline_ms"`
}

// Response collects the reply: the last Send or JSON before the function returns wins.
type Response struct {
	head string // "RES <status> <type>" or "ERR 404"
	body []byte
}

// Handler is the function a runtime serves. A returned error is a 500 with its message; so is a panic, with
// its stack.
type Handler func(req *Request, res *Response) error

func statusOf(status []int) int {
	if len(status) == 0 {
		return 200
	}
	if len(status) > 1 || status[0] < 200 || status[0] > 599 {
		panic(fmt.Sprintf("status must be one number from 200 to 599, not %v", status))
	}
	return status[0]
}

// Send replies with text as text/plain; charset=utf-8. The status is optional (200).
func (r *Response) Send(text string, status ...int) {
	r.head, r.body = fmt.Sprintf("RES %d text", statusOf(status)), []byte(text)
}

// JSON replies with the JSON of value (encoding/json rules) as application/json. The status is optional (200).
func (r *Response) JSON(value any, status ...int) {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // "<" stays "<": the reply is not HTML
	if err := enc.Encode(value); err != nil {
		panic(fmt.Sprintf("res.JSON: %v", err))
	}
	r.head, r.body = fmt.Sprintf("RES %d json", statusOf(status)), bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

// NotFound answers as the shim's "not found" (404), for a function that routes on req.File.
func (r *Response) NotFound(message string) {
	r.head, r.body = "ERR 404", []byte(message)
}

const headerMax = 256

var requestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
var length = regexp.MustCompile(`^(0|[1-9][0-9]{0,14})$`)

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go adapter: "+format+"\n", args...)
	os.Exit(2)
}

// takeProtocolFds keeps private copies of fds 0 and 1 for the protocol (closed in child processes), then
// points fd 1 at stderr and fd 0 at /dev/null: fmt.Println, cgo code and child processes can neither write
// nor read a frame.
func takeProtocolFds() (*os.File, *os.File) {
	in, err1 := syscall.Dup(0)
	out, err2 := syscall.Dup(1)
	null, err3 := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err1 != nil || err2 != nil || err3 != nil || syscall.Dup3(2, 1, 0) != nil || syscall.Dup3(null, 0, 0) != nil {
		fatal("cannot move the protocol off fds 0 and 1")
	}
	syscall.CloseOnExec(in)
	syscall.CloseOnExec(out)
	syscall.Close(null)
	return os.NewFile(uintptr(in), "protocol-in"), os.NewFile(uintptr(out), "protocol-out")
}

func readRequest(in *bufio.Reader) (string, []byte, bool) {
	var line []byte
	for {
		c, err := in.ReadByte()
		if err == io.EOF && len(line) == 0 {
			return "", nil, false // EOF between frames: the shim is done with us
		} else if err != nil {
			fatal("input ended inside a request header")
		}
		if c == '\n' {
			break
		}
		if line = append(line, c); len(line) >= headerMax {
			fatal("a request header is longer than %d bytes", headerMax)
		}
	}
	tokens := strings.Split(string(line), " ")
	if len(tokens) < 3 || tokens[0] != "REQ" || !requestID.MatchString(tokens[1]) || !length.MatchString(tokens[len(tokens)-1]) {
		fatal("bad request header: %q", line)
	}
	n, _ := strconv.Atoi(tokens[len(tokens)-1])
	body := make([]byte, n)
	if _, err := io.ReadFull(in, body); err != nil {
		fatal("input ended inside a request body")
	}
	return tokens[1], body, true
}

func writeFrame(out *os.File, head string, body []byte) {
	frame := append([]byte(fmt.Sprintf("%s %d\n", head, len(body))), body...)
	if _, err := out.Write(frame); err != nil {
		fatal("cannot write to the shim: %v", err)
	}
}

// call runs the function; a panic becomes a 500 with the panic's value and the stack from where it happened.
func call(h Handler, req *Request, res *Response) (failure string) {
	defer func() {
		if v := recover(); v != nil {
			// As Go prints a panic, but from the panicking code down to the function: not this library's frames.
			stack := string(debug.Stack())
			if at := strings.Index(stack, "\npanic("); at >= 0 {
				stack = "goroutine [running]:\n" + strings.SplitN(stack[at+1:], "\n", 3)[2]
			}
			if at := strings.Index(stack, "\nruntime-shim/shim.call("); at >= 0 {
				stack = stack[:at]
			}
			failure = fmt.Sprintf("panic: %v\n\n%s", v, stack)
		}
	}()
	if err := h(req, res); err != nil {
		return fmt.Sprintf("error: %v", err)
	}
	return ""
}

// Serve answers requests with h until the shim closes stdin; it never returns. The runtime's build script
// writes the main package that calls it with your Main.
func Serve(h Handler) {
	in, out := takeProtocolFds()
	reader := bufio.NewReaderSize(in, 1<<16)
	writeFrame(out, "READY 1 json", []byte("go "+goruntime.Version()))
	for {
		id, body, ok := readRequest(reader)
		if !ok {
			os.Exit(0)
		}
		req, res := &Request{}, &Response{}
		if err := json.Unmarshal(body, req); err != nil {
			fatal("bad request body: %v", err)
		}
		if req.Env == nil {
			req.Env = map[string]string{}
		}
		if req.Headers == nil {
			req.Headers = map[string]string{}
		}
		failure := call(h, req, res)
		// os.Stdout and os.Stderr are unbuffered: what the request printed is already on its way to the log.
		switch {
		case failure != "":
			writeFrame(out, "ERR "+id+" 500", []byte(failure))
		case res.head == "":
			writeFrame(out, "ERR "+id+" 500", []byte("Main(req, res) returned without calling res.Send() or res.JSON()"))
		default:
			kind, rest, _ := strings.Cut(res.head, " ")
			writeFrame(out, kind+" "+id+" "+rest, res.body)
		}
	}
}
