// Package shim is the runtime-shim adapter library for Go: Serve answers the shim's requests with your Main,
// persistently, one at a time: Main(req, res) over adapter protocol 1 (the v1 contract), or open-runtimes'
// Main(ctx) over adapter protocol 2 (the v5 contract) when SHIM_PROTOCOL is 2 (docs/adapter-protocol.md).
// Standard library only; requests come in the `json` encoding.
package shim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	goruntime "runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"
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

// panicText is a recovered panic as Go prints one, but from the panicking code down to the function: not
// this library's frames.
func panicText(v any) string {
	stack := string(debug.Stack())
	if at := strings.Index(stack, "\npanic("); at >= 0 {
		stack = "goroutine [running]:\n" + strings.SplitN(stack[at+1:], "\n", 3)[2]
	}
	if at := strings.Index(stack, "\nruntime-shim/shim.call"); at >= 0 {
		stack = stack[:at]
	}
	return fmt.Sprintf("panic: %v\n\n%s", v, stack)
}

// call runs the function; a panic becomes a 500 with the panic's value and the stack from where it happened.
func call(h Handler, req *Request, res *Response) (failure string) {
	defer func() {
		if v := recover(); v != nil {
			failure = panicText(v)
		}
	}()
	if err := h(req, res); err != nil {
		return fmt.Sprintf("error: %v", err)
	}
	return ""
}

// Main is what Serve takes: a v1 function, func(req *Request, res *Response) error, or a v5 one,
// func(ctx *Context) (*RuntimeOutput, error).
type Main interface {
	~func(req *Request, res *Response) error | ~func(ctx *Context) (*RuntimeOutput, error)
}

// Serve answers requests with main until the shim closes stdin; it never returns. The runtime's build script
// writes the main package that calls it with your Main. The shim says which contract it speaks
// (SHIM_PROTOCOL): a Main of the other kind answers every request with an error that says so.
func Serve[F Main](main F) {
	var v1 Handler
	var v5 ContextHandler
	fn := reflect.ValueOf(main)
	if t := reflect.TypeOf(v1); fn.Type().ConvertibleTo(t) {
		v1 = fn.Convert(t).Interface().(Handler)
	} else {
		v5 = fn.Convert(reflect.TypeOf(v5)).Interface().(ContextHandler)
	}
	in, out := takeProtocolFds()
	reader := bufio.NewReaderSize(in, 1<<16)
	if os.Getenv("SHIM_PROTOCOL") == "2" {
		serve2(v5, reader, out)
	}
	if v1 == nil {
		v1 = func(req *Request, res *Response) error {
			res.NotFound("Main is func(ctx *shim.Context) (*shim.RuntimeOutput, error), the v5 API; the v1 contract calls " +
				"func Main(req *shim.Request, res *shim.Response) error")
			return nil
		}
	}
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
		failure := call(v1, req, res)
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

// ---- Protocol 2: open-runtimes' v5 API, Main(ctx). The shim has computed everything ctx.Req shows and applies
// the contract's rules to the reply (header names and filtering, content-type and charset, log truncation,
// log files); here the context is built and bytes move.

// ContextHandler is a v5 function. A returned *RuntimeOutput is the response; nil and no error is "no response" (a
// 500 with the reason in the errors log); an error or a panic is a 500 with it in the errors log; a *LoadError
// is a 503, as when the entry file cannot be loaded.
type ContextHandler func(ctx *Context) (*RuntimeOutput, error)

// Context is one v5 execution: the request, the response helpers and the log.
type Context struct {
	Req *RuntimeRequest
	Res *RuntimeResponse
	id  string
}

// RuntimeRequest is the request as the shim computed it, with its raw body.
type RuntimeRequest struct {
	Method      string            `json:"method"`
	Scheme      string            `json:"scheme"`
	Host        string            `json:"host"`
	Port        int               `json:"port"`
	Path        string            `json:"path"`
	QueryString string            `json:"query_string"`
	Query       map[string]string `json:"query"`
	URL         string            `json:"url"`
	Headers     map[string]string `json:"headers"`
	JSONBody    bool              `json:"json_body"`
	TimeoutMs   int64             `json:"timeout_ms"`
	DeadlineMs  int64             `json:"deadline_ms"`
	body        []byte
}

// BodyBinary is the request body as it came.
func (r *RuntimeRequest) BodyBinary() []byte { return r.body }

// BodyText is the body as text (bytes that are not UTF-8 are kept as they are).
func (r *RuntimeRequest) BodyText() string { return string(r.body) }

// BodyRaw is BodyText (open-runtimes' older name).
func (r *RuntimeRequest) BodyRaw() string { return string(r.body) }

// BodyJSON parses the body into v as json.Unmarshal does (a json.RawMessage keeps it as it came, key order
// included). An empty or invalid body is an error.
func (r *RuntimeRequest) BodyJSON(v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("the request body is not valid JSON: %w", err)
	}
	return nil
}

// Body is the parsed JSON when the request's content-type is application/json (an empty body is an empty
// object; numbers are json.Number), else the text.
func (r *RuntimeRequest) Body() (any, error) {
	if !r.JSONBody {
		return r.BodyText(), nil
	}
	if len(r.body) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the request body is not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("the request body is not valid JSON: data after the value")
	}
	return v, nil
}

// RuntimeOutput is a response: what Main returns. The helpers of RuntimeResponse make one; a header with several
// values (set-cookie) is sent once per value.
type RuntimeOutput struct {
	Body       []byte
	StatusCode int
	Headers    map[string][]string
}

// RuntimeResponse makes replies. Each helper takes an optional status (an int, 200–599) and optional headers
// (a map[string]string, or a map[string][]string for a header that repeats), in any order; anything else
// panics at your call.
type RuntimeResponse struct{}

// Text replies with text (content-type text/plain unless the headers give one).
func (RuntimeResponse) Text(body string, options ...any) *RuntimeOutput {
	return reply([]byte(body), 200, options)
}

// JSON replies with the JSON of value (encoding/json, HTML characters not escaped) as application/json.
func (RuntimeResponse) JSON(value any, options ...any) *RuntimeOutput {
	r := reply(compactJSON(value), 200, options)
	r.set("content-type", "application/json")
	return r
}

// Binary replies with bytes as they are.
func (RuntimeResponse) Binary(body []byte, options ...any) *RuntimeOutput {
	return reply(append([]byte(nil), body...), 200, options)
}

// Empty replies 204 with no body.
func (RuntimeResponse) Empty() *RuntimeOutput { return reply(nil, 204, nil) }

// Redirect replies 301 (or the status given) with location: url.
func (RuntimeResponse) Redirect(url string, options ...any) *RuntimeOutput {
	r := reply(nil, 301, options)
	r.set("location", url)
	return r
}

// Send replies with a string or []byte as given (open-runtimes' older helper).
func (RuntimeResponse) Send(body any, options ...any) *RuntimeOutput {
	switch b := body.(type) {
	case string:
		return reply([]byte(b), 200, options)
	case []byte:
		return reply(append([]byte(nil), b...), 200, options)
	}
	panic(fmt.Sprintf("ctx.Res.Send takes a string or []byte, not %T", body))
}

func reply(body []byte, status int, options []any) *RuntimeOutput {
	r := &RuntimeOutput{Body: body, StatusCode: status, Headers: map[string][]string{}}
	for _, o := range options {
		switch v := o.(type) {
		case int:
			r.StatusCode = statusOf([]int{v})
		case map[string]string:
			for name, value := range v {
				r.Headers[name] = append(r.Headers[name], value)
			}
		case map[string][]string:
			for name, values := range v {
				r.Headers[name] = append(r.Headers[name], values...)
			}
		case nil:
		default:
			panic(fmt.Sprintf("a reply's options are a status (int) and headers (map[string]string or "+
				"map[string][]string), not %T", o))
		}
	}
	return r
}

// set gives the header name one value, over any spelling of it the function gave.
func (r *RuntimeOutput) set(name, value string) {
	for n := range r.Headers {
		if strings.EqualFold(n, name) {
			delete(r.Headers, n)
		}
	}
	r.Headers[name] = []string{value}
}

func compactJSON(value any) []byte {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(value); err != nil {
		panic(fmt.Sprintf("ctx.Res.JSON: %v", err))
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

// Entrypoint is the entry file the shim names under v5 (SHIM_ENTRYPOINT, from OPEN_RUNTIMES_ENTRYPOINT), which
// Serve removes from the environment with the shim's other settings. A runtime is built from one entry file and
// serves it whatever this says; a router (like the conformance dispatcher) may look at it.
func Entrypoint() string { return entrypoint }

// LoadError is the failure of a function that cannot run at all (its setup failed): return it from Main and the
// execution is a 503 with Message in the errors log, as for an entry file that fails to load.
type LoadError struct{ Message string }

func (e *LoadError) Error() string { return e.Message }

const logLineMax = 1 << 16 // characters per LOG frame: far past the shim's 8000-character cut

var (
	frames     sync.Mutex // whole frames, from any goroutine
	proto      *os.File
	serving    string // the request being served, "" between requests
	entrypoint string // SHIM_ENTRYPOINT, named in the errors of a returned error
)

// Log writes one line to the execution's logs: the values joined by one space, strings as they are, every
// other value as compact JSON.
func (c *Context) Log(values ...any) { writeLog(c.id, "log", values) }

// Error writes one line to the execution's errors log, as Log does.
func (c *Context) Error(values ...any) { writeLog(c.id, "error", values) }

func writeLog(id, stream string, values []any) {
	pieces := make([]string, len(values))
	for i, v := range values {
		if s, ok := v.(string); ok {
			pieces[i] = s
			continue
		}
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		if enc.Encode(v) == nil {
			pieces[i] = strings.TrimSuffix(out.String(), "\n")
		} else {
			pieces[i] = fmt.Sprint(v)
		}
	}
	line := strings.Join(pieces, " ")
	if utf8.RuneCountInString(line) > logLineMax {
		line = string([]rune(line)[:logLineMax])
	}
	frames.Lock()
	defer frames.Unlock()
	if id == serving {
		writeFrame(proto, "LOG "+id+" "+stream, []byte(line))
		return
	}
	// Its execution has ended (a goroutine that outlived it): native output instead.
	fmt.Fprintln(os.Stderr, line)
}

func call5(h ContextHandler, ctx *Context) (r *RuntimeOutput, failure string, code int) {
	defer func() {
		if v := recover(); v != nil {
			r, failure, code = nil, panicText(v), 500
		}
	}()
	r, err := h(ctx)
	var load *LoadError
	if errors.As(err, &load) {
		return nil, load.Message, 503
	} else if err != nil {
		return nil, "error: " + err.Error() + "\n    returned by Main(ctx) of " + entrypoint, 500
	}
	return r, "", 0
}

func serve2(h ContextHandler, in *bufio.Reader, out *os.File) {
	entrypoint = os.Getenv("SHIM_ENTRYPOINT")
	// The function's variables are the process environment; the adapter's settings are not among them.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SHIM_") {
			os.Unsetenv(name)
		}
	}
	proto = out
	writeFrame(out, "READY 2 json", []byte("go "+goruntime.Version()))
	for {
		id, body, meta, ok := readRequest2(in)
		if !ok {
			os.Exit(0)
		}
		ctx := &Context{Req: &RuntimeRequest{}, Res: &RuntimeResponse{}, id: id}
		if err := json.Unmarshal(meta, ctx.Req); err != nil {
			fatal("bad request metadata: %v", err)
		}
		ctx.Req.body = body
		if ctx.Req.Headers == nil {
			ctx.Req.Headers = map[string]string{}
		}
		if ctx.Req.Query == nil {
			ctx.Req.Query = map[string]string{}
		}
		frames.Lock()
		serving = id
		frames.Unlock()
		var r *RuntimeOutput
		var failure string
		var code int
		if h == nil {
			failure, code = "Function signature invalid. Did you forget to export a 'main' function? (Main is the v1 "+
				"func(req *shim.Request, res *shim.Response) error; the v5 contract calls func Main(ctx *shim.Context) "+
				"(*shim.RuntimeOutput, error))", 503
		} else {
			r, failure, code = call5(h, ctx)
		}
		head, headers, replyBody := "", []byte{}, []byte{}
		switch {
		case code != 0:
			head, replyBody = fmt.Sprintf("ERR %s %d", id, code), []byte(failure)
		case r == nil:
			head = "NONE " + id
		default:
			var err error
			if head, headers, err = encodeReply(id, r); err != nil {
				head, headers, replyBody = "ERR "+id+" 500", nil, []byte(err.Error())
			} else {
				replyBody = r.Body
			}
		}
		frames.Lock()
		serving = ""
		writeFrame2(out, head, headers, replyBody)
		frames.Unlock()
	}
}

func encodeReply(id string, r *RuntimeOutput) (string, []byte, error) {
	status := r.StatusCode
	if status == 0 {
		status = 200
	}
	if status < 200 || status > 599 {
		return "", nil, fmt.Errorf("the reply's status must be from 200 to 599, not %d", status)
	}
	names := make([]string, 0, len(r.Headers))
	for name := range r.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	pairs := [][2]string{}
	for _, name := range names {
		for _, value := range r.Headers[name] {
			pairs = append(pairs, [2]string{name, value})
		}
	}
	meta, _ := json.Marshal(pairs)
	return fmt.Sprintf("RES %s %d %d", id, status, len(meta)), meta, nil
}

// readRequest2 reads `REQ <id> <M> <N>`: M bytes of metadata, then N - M bytes of raw body.
func readRequest2(in *bufio.Reader) (id string, body, meta []byte, ok bool) {
	var line []byte
	for {
		c, err := in.ReadByte()
		if err == io.EOF && len(line) == 0 {
			return "", nil, nil, false
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
	t := strings.Split(string(line), " ")
	if len(t) != 4 || t[0] != "REQ" || !requestID.MatchString(t[1]) || !length.MatchString(t[2]) || !length.MatchString(t[3]) {
		fatal("bad request header: %q", line)
	}
	m, _ := strconv.Atoi(t[2])
	n, _ := strconv.Atoi(t[3])
	if m > n {
		fatal("bad request header: %q", line)
	}
	all := make([]byte, n)
	if _, err := io.ReadFull(in, all); err != nil {
		fatal("input ended inside a request body")
	}
	return t[1], all[m:], all[:m], true
}

// writeFrame2 writes `<head> <M+N>\n`, M bytes of meta and the body; the caller holds frames.
func writeFrame2(out *os.File, head string, meta, body []byte) {
	start := append([]byte(fmt.Sprintf("%s %d\n", head, len(meta)+len(body))), meta...)
	if len(body) <= 1<<16 {
		start, body = append(start, body...), nil
	}
	for _, b := range [][]byte{start, body} {
		if _, err := out.Write(b); err != nil {
			fatal("cannot write to the shim: %v", err)
		}
	}
}
