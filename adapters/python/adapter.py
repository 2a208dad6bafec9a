#!/usr/bin/env python3
"""runtime-shim adapter for Python 3.8+: serves a user's `main(req, res)` over adapter protocol 1 (the v1
contract), or open-runtimes' `main(context)` over adapter protocol 2 (the v5 contract) when SHIM_PROTOCOL is 2.

The wire format is docs/adapter-protocol.md; this file is one of its reference implementations.
Standard library only, so it runs on any official python image with nothing installed. The shim applies every
rule of the contracts that needs no language; this file only loads the function, builds its arguments and
moves bytes.
"""
# asyncio, inspect, traceback (and importlib.util) cost milliseconds each to import: they are imported when first needed, so
# the adapter is ready soon after the interpreter starts.
import _signal, _thread, importlib.machinery, io, itertools, json, os, re, sys, types

# The protocol owns fds 0 and 1. Keep private copies, then give fd 1 to stderr and fd 0 to /dev/null, so that
# nothing the user's code, a C extension or a child process prints or reads can touch a frame.
PROTO_OUT = os.dup(1)
os.dup2(2, 1)
PROTO_IN = io.open(os.dup(0), "rb")
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)


class _LogStream(io.TextIOWrapper):
    """sys.stdout and sys.stderr. The shim logs stderr line by line under the request being served, so what a
    thread of an execution that is over prints goes elsewhere: a LOG frame with that execution's id while another
    request is served, plain stderr (no request's) between requests."""

    def write(self, text):
        origin = getattr(_origin, "rid", _serving)
        if origin is None or origin == _serving:
            return super().write(text)
        pending = getattr(_origin, "pending", "") + text
        *lines, _origin.pending = pending.split("\n")
        for line in lines:
            late_line(self, origin, line)
        return len(text)


def _log_stream(fd):
    # The shim logs stderr line by line, tagged with the request being served: output must not wait for exit.
    raw = io.open(fd, "wb", closefd=False)
    return _LogStream(raw, "utf-8", "backslashreplace", line_buffering=True, write_through=True)


def _tagging(start):
    # A thread remembers the request it was started under (a thread it starts inherits it), for _LogStream.
    def start_thread(function, *args, **kwargs):
        rid = getattr(_origin, "rid", _serving)

        def run(*a, **k):
            _origin.rid = rid
            return function(*a, **k)

        return start(run, *args, **kwargs)

    return start_thread


_origin = _thread._local()  # .rid: the request a thread was started under (unset in the main thread)
for _name in ("start_new_thread", "start_joinable_thread"):  # what threading starts its threads with
    if hasattr(_thread, _name):
        setattr(_thread, _name, _tagging(getattr(_thread, _name)))
        if "threading" in sys.modules and hasattr(sys.modules["threading"], "_" + _name):  # site imported it
            setattr(sys.modules["threading"], "_" + _name, getattr(_thread, _name))


sys.stdout, sys.stderr = _log_stream(1), _log_stream(2)
# No __pycache__ in the code folder: it may be read-only or shared, and each file is compiled once per process.
sys.dont_write_bytecode = True

PROTOCOL = 2 if os.environ.get("SHIM_PROTOCOL") == "2" else 1
CONTRACT = os.environ.get("SHIM_CONTRACT", "v1")  # under protocol 2: v5 (and http) is main(context), v2 main(req, res)
HEADER_MAX = 256
REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_SELF = sys._getframe().f_code.co_filename
_ASYNCIO = os.sep + "asyncio" + os.sep  # in the path of asyncio's own frames
# Frames are written by this process only: a child forked by the function (os.fork, multiprocessing) shares
# the pipe, and a frame of its own would corrupt the stream. Threads may log while the function runs, so
# whole frames are written under one lock.
_PID = os.getpid()
_frames = _thread.allocate_lock()
_serving = None  # the id of the request being served, None between requests


def is_length(token):
    """A decimal number without sign or leading zeros: what every frame's last token is."""
    return token.isdigit() and (token[:1] != b"0" or token == b"0")  # bytes.isdigit is ASCII only


# One encoder each (json.dumps with options builds a new one per call): compact, non-ASCII kept, no NaN.
_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_json_ascii = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # lone surrogates stay escaped
_json_pairs = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def fatal(message):
    print("python adapter: " + message, file=sys.stderr)
    sys.exit(2)


def _write_all(data):
    data = memoryview(data)
    while data:  # os.write may be partial (a signal, a full pipe)
        data = data[os.write(PROTO_OUT, data):]


def _send(head, body=b"", meta=b""):
    # The caller holds _frames. One write for a small frame; a large body (up to 20 MiB) is written as it is,
    # not copied behind its header.
    start = b"%s %d\n" % (head.encode("ascii"), len(meta) + len(body))
    if len(body) <= 65536:
        _write_all(b"".join((start, meta, body)))
    else:
        _write_all(start + meta)
        _write_all(body)


def write_frame(head, body=b"", meta=b""):
    if os.getpid() == _PID:
        with _frames:
            _send(head, body, meta)


def read_header():
    line = PROTO_IN.readline(HEADER_MAX + 1)
    if not line:
        sys.exit(0)  # EOF between frames: the shim is done with us
    if len(line) > HEADER_MAX:
        fatal("a request header is longer than %d bytes" % HEADER_MAX)
    if not line.endswith(b"\n"):
        fatal("input ended inside a request header")
    tokens = line[:-1].split(b" ")
    if tokens[0] != b"REQ" or len(tokens) < 3 or not REQUEST_ID.fullmatch(tokens[1]) or not is_length(tokens[-1]):
        fatal("bad request header: %r" % line)
    return line, tokens


def read_exactly(size):
    data = PROTO_IN.read(size)  # one read of the exact size: a buffered read fills one new bytes object
    if len(data) != size:
        fatal("input ended inside a request body")
    return data


def read_frame():
    """Protocol 1: `REQ <id> <N>` and the request's JSON."""
    line, tokens = read_header()
    return tokens[1].decode("ascii"), read_exactly(int(tokens[-1]))


def read_frame2():
    """Protocol 2: `REQ <id> <M> <N>`, then M bytes of JSON metadata and N - M bytes of raw body."""
    line, tokens = read_header()
    if len(tokens) != 4 or not is_length(tokens[2]) or int(tokens[2]) > int(tokens[3]):
        fatal("bad request header: %r" % line)
    meta = int(tokens[2])
    return tokens[1].decode("ascii"), read_exactly(meta), read_exactly(int(tokens[3]) - meta)


class NotFound(Exception):
    """The entry file or its function is missing: a 404, not the user's bug at run time."""


class Request:
    def __init__(self, msg):
        self.env = msg.get("env") or {}
        self.payload = msg.get("payload") or ""
        self.headers = msg.get("headers") or {}


class Response:
    def __init__(self):
        self.reply = None  # (status, type, body) of the last send()/json() call

    def send(self, text, status=200):
        if isinstance(text, str):
            text = text.encode("utf-8")
        elif not isinstance(text, (bytes, bytearray, memoryview)):
            raise TypeError("res.send() takes str or bytes, not %s" % type(text).__name__)
        self._set(status, "text", bytes(text))

    def json(self, value, status=200):
        # allow_nan=False: NaN/Infinity are not JSON, and the shim serves this as application/json.
        try:
            text = _json(value).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (e.g. from a "\ud800" in the payload): keep them escaped
            text = _json_ascii(value).encode("ascii")
        self._set(status, "json", text)

    def _set(self, status, kind, body):
        # Checked here so that a bad status is a 500 whose stack points at the user's call.
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise ValueError("status must be an integer from 200 to 599, not %r" % (status,))
        self.reply = (status, kind, body)


_functions = {}  # absolute path of the entry file -> its main; each file is imported once per adapter
_module_names = itertools.count()
_loop = None


_by_request = {}  # (path, file) -> main when they name an absolute path: no path arithmetic per execution


def load(path, file):
    main = _by_request.get((path, file))
    if main is None:
        main = load_file(path, file)
        if os.path.isabs(os.path.join(path, file)):  # resolved the same whatever the working directory
            _by_request[(path, file)] = main
    return main


def load_file(path, file):
    if not file:
        raise NotFound("no entry file was named for %s: the request's file is empty and the image sets no "
                       "APPWRITE_ENTRYPOINT_NAME" % path)
    full = os.path.abspath(os.path.join(path, file))
    if full in _functions:
        return _functions[full]
    if not os.path.isfile(full):
        raise NotFound("entry file %s does not exist: expected a file defining main(req, res)" % full)
    for folder in (os.path.abspath(path), os.path.dirname(full)):  # like `python file.py`: siblings import
        if folder not in sys.path:
            sys.path.insert(0, folder)
    module = import_file("shim_function_%d" % next(_module_names), full)
    main = getattr(module, "main", None)
    if not callable(main):
        raise NotFound("%s defines no function main(req, res)" % full)
    _functions[full] = main
    return main


def import_file(name, full):
    # What importlib.util would build, without importing it: a module with its spec, file and loader (an
    # explicit source loader, so a file whose name does not end in .py loads too).
    loader = importlib.machinery.SourceFileLoader(name, full)
    spec = importlib.machinery.ModuleSpec(name, loader, origin=full)
    spec.has_location = True
    module = types.ModuleType(name)
    module.__spec__, module.__loader__, module.__file__ = spec, loader, full
    sys.modules[name] = module  # dataclasses, pickle, typing look modules up by name while they import
    try:
        loader.exec_module(module)
    except BaseException:
        del sys.modules[name]  # not cached: the next request retries, and reports the error again
        raise
    return module


def call(main, req, res):
    result = main(req, res)
    if hasattr(result, "__await__"):  # a coroutine or another awaitable: an async main
        wait_for(result)


def wait_for(awaitable):
    # One loop for the adapter's life, not asyncio.run() per call: clients and pools a module keeps
    # between calls (aiohttp sessions, database pools) are bound to the loop that created them.
    global _loop
    if _loop is None:
        import asyncio
        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)
    return _loop.run_until_complete(awaitable)


def describe(error):
    # Start the stack at the user's code: our own, importlib's and asyncio's frames only hide it.
    import traceback
    tb = error.__traceback__
    while tb and (tb.tb_frame.f_code.co_filename == _SELF
                  or tb.tb_frame.f_code.co_filename.startswith("<frozen ")
                  or _ASYNCIO in tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


def handle(rid, body):
    try:
        msg = json.loads(body)
        path, file = msg.get("path") or os.environ.get("SHIM_CODE_PATH", "/usr/code"), msg.get("file") or ""
        res = Response()
        call(load(path, file), Request(msg), res)
        if res.reply is None:
            return "ERR %s 500" % rid, ("main(req, res) in %s returned without calling res.send() or res.json()"
                                        % os.path.abspath(os.path.join(path, file))).encode("utf-8")
        status, kind, data = res.reply
        return "RES %s %d %s" % (rid, status, kind), data
    except NotFound as e:
        return "ERR %s 404" % rid, str(e).encode("utf-8", "backslashreplace")
    except (SystemExit, KeyboardInterrupt):
        raise  # sys.exit() ends the adapter, as it would end a script; the shim starts a fresh one
    except BaseException as e:
        return "ERR %s 500" % rid, describe(e).encode("utf-8", "backslashreplace")


# Protocol 2: open-runtimes' v5 API, `main(context)`. The shim has computed everything `context.req` shows and
# applies the contract's rules to the reply (header names and filtering, content-type and charset, log
# truncation, log files); here the function is loaded, `context` is built and bytes move.

LOG_LINE_MAX = 1 << 16  # characters per LOG frame: far past the shim's 8000-character cut, far under its frame limit


class LoadFailed(Exception):
    """The entry file is missing, fails to load or defines no main: a 503, with this message in the errors log."""


_context_by_request = {}  # (code path, entry) -> main when they name an absolute path, as _by_request


def load_context_main(code_path, entry):
    main = _context_by_request.get((code_path, entry))
    if main is None:
        main = load_context_file(code_path, entry)
        if os.path.isabs(os.path.join(code_path, entry)):
            _context_by_request[(code_path, entry)] = main
    return main


def load_context_file(code_path, entry):
    full = os.path.abspath(os.path.join(code_path, entry))
    if full in _functions:
        return _functions[full]
    if not entry or not os.path.isfile(full):
        raise LoadFailed("Failed to load entrypoint, file %s does not exist." % entry)
    folder = os.path.dirname(full)
    for path in (os.path.abspath(code_path), folder):  # like `python main.py`: siblings import
        if path not in sys.path:
            sys.path.insert(0, path)
    # As in open-runtimes, the file is a module of a package named `function` (its folder), so the relative
    # imports of Appwrite's templates (`from .utils import x`) work as well as absolute ones.
    if "function" not in sys.modules:
        spec = importlib.machinery.ModuleSpec("function", None, is_package=True)
        spec.submodule_search_locations = [folder]
        package = types.ModuleType("function")
        package.__spec__, package.__path__, package.__package__ = spec, [folder], "function"
        sys.modules["function"] = package
    stem = os.path.basename(full)
    name = "function." + (stem[:-3] if stem.endswith(".py") else stem).replace(".", "_")
    try:
        module = import_file(name, full)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as e:
        raise LoadFailed(describe(e))
    main = getattr(module, "main", None)
    if not callable(main):
        del sys.modules[name]  # not cached either: a later request imports the file again
        raise LoadFailed("Function signature invalid. Did you forget to export a 'main' function?")
    _functions[full] = main
    return main


class ContextRequest:
    """`context.req`: the request as the shim computed it, and its raw body, decoded only when asked."""

    def __init__(self, meta, body):
        self.body_binary = body
        self.headers = meta.get("headers") or {}
        self.method = meta.get("method", "")
        self.scheme = meta.get("scheme", "")
        self.host = meta.get("host", "")
        self.port = meta.get("port")
        self.path = meta.get("path", "")
        self.query_string = meta.get("query_string", "")
        self.query = meta.get("query") or {}
        self.url = meta.get("url", "")
        self._json_body = bool(meta.get("json_body"))
        self._text = None

    @property
    def body_text(self):
        if self._text is None:
            self._text = self.body_binary.decode("utf-8")
        return self._text

    @property
    def body_raw(self):  # deprecated: the text
        return self.body_text

    @property
    def body_json(self):  # parsed on every access, so each caller gets its own objects; "" is invalid JSON
        return json.loads(self.body_text)

    @property
    def body(self):  # the shim says whether the content-type is application/json
        if self._json_body:
            return self.body_json if self.body_binary else {}
        return self.body_text


class ContextResponse:
    """`context.res`: each helper returns a response (a dict, as in open-runtimes); only what main returns is
    the reply. `statusCode=` is accepted too, open-runtimes' own spelling."""

    def text(self, body, status_code=200, headers=None, statusCode=None):
        if not isinstance(body, str):
            raise TypeError("context.res.text() takes a str, not %s" % type(body).__name__)
        return _response(body.encode("utf-8"), status_code, statusCode, headers)

    def json(self, obj, status_code=200, headers=None, statusCode=None):
        # Compact, non-ASCII kept; allow_nan=False: NaN and Infinity are not JSON.
        try:
            data = _json(obj).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: keep them escaped
            data = _json_ascii(obj).encode("ascii")
        return _response(data, status_code, statusCode, headers, ("content-type", "application/json"))

    def binary(self, data, status_code=200, headers=None, statusCode=None):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("context.res.binary() takes bytes, not %s" % type(data).__name__)
        return _response(bytes(data), status_code, statusCode, headers)

    def empty(self):
        return _response(b"", 204, None, None)

    def redirect(self, url, status_code=301, headers=None, statusCode=None):
        return _response(b"", status_code, statusCode, headers, ("location", url))

    def send(self, body, status_code=200, headers=None, statusCode=None):  # deprecated: text or bytes as given
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError("context.res.send() takes str or bytes, not %s" % type(body).__name__)
        return _response(bytes(body), status_code, statusCode, headers)


def _response(body, status_code, statusCode, headers, replace=None):
    status = status_code if statusCode is None else statusCode
    return {"body": body, "statusCode": _status(status), "headers": _headers(headers, replace)}


def _status(status):
    # Checked in the helper, so that a bad status is a 500 whose stack points at the user's call.
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise ValueError("status_code must be an integer from 200 to 599, not %r" % (status,))
    return status


def _headers(headers, replace=None):
    """A copy of a response's headers; `replace` = (name, value) is set over any spelling of that name."""
    if headers is None:
        headers = {}
    elif not hasattr(headers, "items"):
        raise TypeError("headers must be a dict, not %s" % type(headers).__name__)
    headers = dict(headers)
    if replace:
        for name in [n for n in headers if str(n).lower() == replace[0]]:
            del headers[name]
        headers[replace[0]] = replace[1]
    return headers


class Context:
    def __init__(self, rid, meta, body):
        self.req = ContextRequest(meta, body)
        self.res = ContextResponse()
        self._id = rid

    def log(self, *messages):
        write_log(self._id, "log", messages)

    def error(self, *messages):
        write_log(self._id, "error", messages)


def _log_piece(value):
    if isinstance(value, str):
        return value
    try:  # every other value as compact JSON (42, true, null, {"a":1}); what JSON cannot show, as str()
        return _json(value)
    except (TypeError, ValueError, RecursionError):
        return str(value)


def write_log(rid, stream, messages):
    line = " ".join(_log_piece(m) for m in messages)[:LOG_LINE_MAX]
    if os.getpid() == _PID:
        with _frames:
            if rid == _serving:
                _send("LOG %s %s" % (rid, stream), line.encode("utf-8", "backslashreplace"))
                return
    # Its execution has ended (a thread or a callback that outlived it), or this is a forked child.
    try:
        late_line(sys.stderr, rid, line)
    except Exception:
        pass


def late_line(stream, rid, line):
    """A line of execution `rid`, which is over: while another request is served, a LOG frame with `rid` (the
    shim logs it under that execution, not the one running); between requests, or in a forked child, stderr."""
    if os.getpid() == _PID:
        with _frames:
            if _serving is not None and _serving != rid:
                _send("LOG %s log" % rid, line[:LOG_LINE_MAX].encode("utf-8", "backslashreplace"))
                return
    io.TextIOWrapper.write(stream, line + "\n")


def encode_reply(rid, out, entry):
    if out is None:
        return "NONE %s" % rid, b"", b""
    if not isinstance(out, dict):
        raise TypeError("main(context) in %s returned %s, not a response: return context.res.text(), .json(), "
                        ".binary(), .redirect() or .empty()" % (entry, type(out).__name__))
    body = out.get("body")
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    elif isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    elif not isinstance(body, bytes):
        raise TypeError("the response's body must be str or bytes, not %s" % type(body).__name__)
    status = _status(out.get("statusCode", 200))
    pairs = []
    for name, value in _headers(out.get("headers")).items():
        for one in value if isinstance(value, (list, tuple)) else (value,):  # a list: the header repeats
            pairs.append((str(name), str(one)))
    # ensure_ascii=False, then "replace": a lone surrogate cannot become a \ud800 escape the shim must refuse.
    meta = _json_pairs(pairs).encode("utf-8", "replace") if pairs else b"[]"
    return "RES %s %d %d" % (rid, status, len(meta)), meta, body


class _ConsoleLines(io.TextIOBase):
    """The v2 contract's console capture: while a function runs, what it prints on sys.stdout / sys.stderr
    becomes LOG lines of its execution (the shim puts them in the reply's `stdout` / `stderr`)."""

    def __init__(self, rid, stream):
        self.rid, self.stream, self.pending = rid, stream, ""

    def writable(self):
        return True

    def write(self, text):
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            write_log(self.rid, self.stream, [line])
        return len(text)

    def flush(self):
        if self.pending:
            write_log(self.rid, self.stream, [self.pending])
            self.pending = ""


def handle_v2(rid, meta, code_path, entry):
    """open-runtimes v2: main(req, res) with req.variables, req.payload, req.headers and res.send / res.json."""
    msg = json.loads(meta)
    req = types.SimpleNamespace(variables=msg.get("variables") or {}, payload=msg.get("payload") or "",
                                headers=msg.get("headers") or {})
    res = Response()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _ConsoleLines(rid, "log"), _ConsoleLines(rid, "error")
    try:
        call(load(code_path, entry), req, res)
    except NotFound as e:
        return "ERR %s 503" % rid, b"", str(e).encode("utf-8", "backslashreplace")
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = saved
    if res.reply is None:
        return "NONE %s" % rid, b"", b""
    status, kind, data = res.reply
    meta = b'[["content-type","application/json"]]' if kind == "json" else b"[]"
    return "RES %s %d %d" % (rid, status, len(meta)), meta, data


def handle2(rid, meta, raw, code_path, entry):
    global _serving
    _serving = rid  # from here until the reply, context.log writes LOG frames with this id
    try:
        if CONTRACT == "v2":
            return handle_v2(rid, meta, code_path, entry)
        main = load_context_main(code_path, entry)
        out = main(Context(rid, json.loads(meta), raw))
        if hasattr(out, "__await__"):  # an async main
            out = wait_for(out)
        return encode_reply(rid, out, entry)
    except LoadFailed as e:
        return "ERR %s 503" % rid, b"", str(e).encode("utf-8", "backslashreplace")
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as e:
        return "ERR %s 500" % rid, b"", describe(e).encode("utf-8", "backslashreplace")


def serve2():
    global _serving
    code_path = os.environ.get("SHIM_CODE_PATH") or "/usr/local/server/src/function"
    entry = os.environ.get("SHIM_ENTRYPOINT") or ""
    # The function's variables are the process environment; the adapter's settings are not among them.
    for name in [n for n in os.environ if n.startswith("SHIM_")]:
        del os.environ[name]
    keep_start_state()
    try:
        if CONTRACT != "v2":
            load_context_main(code_path, entry)
        elif entry and os.path.isfile(os.path.join(code_path, entry)):
            load(code_path, entry)
    except Exception:
        pass  # reported to every request until one loads it
    write_frame("READY 2 json", ("python %d.%d.%d" % sys.version_info[:3]).encode())
    while True:
        rid, meta, raw = read_frame2()
        restore_start_state()
        head, reply_meta, body = handle2(rid, meta, raw, code_path, entry)
        flush_output()
        with _frames:
            _serving = None  # a log call from now on has no request: it goes to stderr
            _send(head, body, reply_meta)


def serve():
    global _serving
    if PROTOCOL == 2:
        return serve2()
    keep_start_state()
    code_path, entry = os.environ.get("SHIM_CODE_PATH"), os.environ.get("SHIM_ENTRYPOINT")
    if code_path and entry and os.path.isfile(os.path.join(code_path, entry)):
        try:
            load(code_path, entry)
        except Exception:
            pass  # reported, with its traceback, to the first request that needs this file
    write_frame("READY 1 json", ("python %d.%d.%d" % sys.version_info[:3]).encode())
    while True:
        rid, body = read_frame()
        restore_start_state()
        _serving = rid
        head, reply = handle(rid, body)
        flush_output()  # a forked child ends there: from here on this is the adapter itself
        with _frames:
            _serving = None  # what a thread prints from now on belongs to no request
            _send(head, reply)


_start = {}  # the working directory and the environment every execution starts with


def _environ_data():
    # os.environ keeps its contents in a dict of bytes: comparing that with a copy is one C call, where reading
    # os.environ decodes every name and value. None when it has none (another Python, or code replaced it).
    data = getattr(os.environ, "_data", None)
    return data if type(data) is dict else None


def keep_start_state():
    _start["cwd"], _start["env"] = os.getcwd(), dict(os.environ)
    data = _environ_data()
    _start["data"] = dict(data) if data is not None else None


def restore_start_state():
    """What the last execution changed in the process's working directory and environment is undone."""
    try:
        if os.getcwd() != _start["cwd"]:
            os.chdir(_start["cwd"])
    except OSError:  # its directory was removed: going back fails just as well
        try:
            os.chdir(_start["cwd"])
        except OSError:
            pass
    env = _start["env"]
    data = _environ_data()
    if data is not None and data == _start["data"]:
        return  # unchanged, the common case
    if dict(os.environ) != env:
        for name in [n for n in os.environ if n not in env]:
            del os.environ[name]
        for name, value in env.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


def flush_output():
    # An alarm (signal.alarm, setitimer) the execution left armed would end or interrupt the next one: disarmed.
    _signal.setitimer(_signal.ITIMER_REAL, 0)
    for stream in (sys.stdout, sys.stderr):  # what the request printed is logged before its reply
        try:
            stream.flush()
        except Exception:
            pass
    if os.getpid() != _PID:
        os._exit(0)  # a child the function forked, returning through the adapter: it never serves


if __name__ == "__main__":
    serve()
