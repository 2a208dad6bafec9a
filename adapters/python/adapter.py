#!/usr/bin/env python3
"""runtime-shim adapter for Python 3.8+: serves a user's `main(req, res)` over adapter protocol 1.

The wire format is docs/adapter-protocol.md; this file is one of its reference implementations.
Standard library only, so it runs on any official python image with nothing installed.
"""
# asyncio, inspect, traceback (and importlib.util) cost milliseconds each to import: they are imported when first needed, so
# the adapter is ready soon after the interpreter starts.
import importlib.machinery, io, itertools, json, os, re, sys, types

# The protocol owns fds 0 and 1. Keep private copies, then give fd 1 to stderr and fd 0 to /dev/null, so that
# nothing the user's code, a C extension or a child process prints or reads can touch a frame.
PROTO_OUT = os.dup(1)
os.dup2(2, 1)
PROTO_IN = io.open(os.dup(0), "rb")
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)


def _log_stream(fd):
    # The shim logs stderr line by line, tagged with the request being served: output must not wait for exit.
    raw = io.open(fd, "wb", closefd=False)
    return io.TextIOWrapper(raw, "utf-8", "backslashreplace", line_buffering=True, write_through=True)


sys.stdout, sys.stderr = _log_stream(1), _log_stream(2)
# No __pycache__ in the code folder: it may be read-only or shared, and each file is compiled once per process.
sys.dont_write_bytecode = True

HEADER_MAX = 256
LENGTH = re.compile(rb"0|[1-9][0-9]*")
REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_SELF = sys._getframe().f_code.co_filename
_ASYNCIO = os.sep + "asyncio" + os.sep  # in the path of asyncio's own frames


def fatal(message):
    print("python adapter: " + message, file=sys.stderr)
    sys.exit(2)


def write_frame(head, body=b""):
    data = memoryview(head.encode("ascii") + b" %d\n" % len(body) + body)
    while data:  # os.write may be partial (a signal, a full pipe)
        data = data[os.write(PROTO_OUT, data):]


def read_frame():
    line = PROTO_IN.readline(HEADER_MAX + 1)
    if not line:
        sys.exit(0)  # EOF between frames: the shim is done with us
    if len(line) > HEADER_MAX:
        fatal("a request header is longer than %d bytes" % HEADER_MAX)
    if not line.endswith(b"\n"):
        fatal("input ended inside a request header")
    tokens = line[:-1].split(b" ")
    if tokens[0] != b"REQ" or len(tokens) < 3 or not REQUEST_ID.fullmatch(tokens[1]) or not LENGTH.fullmatch(tokens[-1]):
        fatal("bad request header: %r" % line)
    body = PROTO_IN.read(int(tokens[-1]))
    if len(body) != int(tokens[-1]):
        fatal("input ended inside a request body")
    return tokens[1].decode("ascii"), body


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
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (e.g. from a "\ud800" in the payload): keep them escaped
            text = json.dumps(value, separators=(",", ":"), allow_nan=False).encode("ascii")
        self._set(status, "json", text)

    def _set(self, status, kind, body):
        # Checked here so that a bad status is a 500 whose stack points at the user's call.
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise ValueError("status must be an integer from 200 to 599, not %r" % (status,))
        self.reply = (status, kind, body)


_functions = {}  # absolute path of the entry file -> its main; each file is imported once per adapter
_module_names = itertools.count()
_loop = None


def load(path, file):
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
    name = "shim_function_%d" % next(_module_names)
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
    main = getattr(module, "main", None)
    if not callable(main):
        raise NotFound("%s defines no function main(req, res)" % full)
    _functions[full] = main
    return main


def call(main, req, res):
    global _loop
    result = main(req, res)
    if hasattr(result, "__await__"):  # a coroutine or another awaitable: an async main
        # One loop for the adapter's life, not asyncio.run() per call: clients and pools a module keeps
        # between calls (aiohttp sessions, database pools) are bound to the loop that created them.
        if _loop is None:
            import asyncio
            _loop = asyncio.new_event_loop()
            asyncio.set_event_loop(_loop)
        _loop.run_until_complete(result)


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


def serve():
    code_path, entry = os.environ.get("SHIM_CODE_PATH"), os.environ.get("SHIM_ENTRYPOINT")
    if code_path and entry and os.path.isfile(os.path.join(code_path, entry)):
        try:
            load(code_path, entry)
        except Exception:
            pass  # reported, with its traceback, to the first request that needs this file
    write_frame("READY 1 json", ("python %d.%d.%d" % sys.version_info[:3]).encode())
    while True:
        rid, body = read_frame()
        head, reply = handle(rid, body)
        for stream in (sys.stdout, sys.stderr):  # what the request printed is logged before its reply
            try:
                stream.flush()
            except Exception:
                pass
        write_frame(head, reply)


if __name__ == "__main__":
    serve()
