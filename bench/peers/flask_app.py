"""The seed-era peer: a Flask app doing what the seed's python runtime did per request — check the key, decode the
JSON body, load the user's file (once, cached by path, like `importlib.import_module` did), call main(req, res) and
reply with what it sent. Same Request/Response surface as adapters/python, so the same seed.py runs unchanged.

Run it the way that era did, `python flask_app.py` (Flask's development server via app.run, threaded), or under
gunicorn as `gunicorn -w N flask_app:app`. Env: KEY, PORT (app.run only).
"""
import importlib.util
import json
import os
import traceback

from flask import Flask, request

app = Flask(__name__)
KEY = os.environ.get("KEY", "")


class Request:
    def __init__(self, env, payload, headers):
        self.env, self.payload, self.headers = env, payload, headers


class Response:
    def __init__(self):
        self.reply = None

    def send(self, text, status=200):
        self.reply = (text, status, "text/plain; charset=utf-8")

    def json(self, value, status=200):
        self.reply = (json.dumps(value, separators=(",", ":")), status, "application/json")


_functions = {}


def load(path, file):
    full = os.path.join(path, file)
    main = _functions.get(full)
    if main is None:
        spec = importlib.util.spec_from_file_location("user_%d" % len(_functions), full)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        main = _functions[full] = module.main
    return main


def error(code, message):
    return app.response_class(json.dumps({"code": code, "message": message}), code, mimetype="application/json")


@app.route("/", defaults={"u_path": ""}, methods=["POST"])
@app.route("/<path:u_path>", methods=["POST"])
def handler(u_path):
    if request.headers.get("x-internal-challenge") != KEY or not KEY:
        return error(401, "Unauthorized")
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return error(400, "the body is not a JSON object")
    req = Request(body.get("env") or {}, body.get("payload") or "", body.get("headers") or {})
    res = Response()
    try:
        load(body.get("path") or "/usr/code", body.get("file") or "index.py")(req, res)
    except Exception:
        return error(500, traceback.format_exc())
    if res.reply is None:
        return error(500, "the function returned without calling send or json")
    text, status, content_type = res.reply
    return app.response_class(text, status, content_type=content_type)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]))
