// The bare-node peer: node's own `http` module doing the shim's job in-process — check the key, collect and
// decode the JSON body, require the user's file once (cached), call fn(req, res), reply with what it sent.
// Same Request/Response surface as adapters/node, so the same seed.js runs unchanged.
// Env: PORT, KEY, WORKERS (> 1: that many processes behind node's cluster module, like SHIM_WORKERS).
'use strict';
const cluster = require('cluster');
const http = require('http');
const path = require('path');

const workers = Number(process.env.WORKERS || 1);
if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', () => process.exit(1));
} else {
  const key = process.env.KEY || '';
  const functions = new Map();
  const load = (dir, file) => {
    const full = path.resolve(dir, file);
    let fn = functions.get(full);
    if (!fn) functions.set(full, (fn = require(full)));
    return fn;
  };
  const reply = (res, status, type, text) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const error = (res, code, message) => reply(res, code, 'application/json', JSON.stringify({ code, message }));

  http.createServer((req, res) => {
    if (!key || req.headers['x-internal-challenge'] !== key) return error(res, 401, 'Unauthorized');
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        return error(res, 400, `the body is not valid JSON: ${e.message}`);
      }
      let out = null;
      const request = { env: body.env || {}, payload: body.payload || '', headers: body.headers || {} };
      const response = {
        send: (text, status = 200) => { out = [status, 'text/plain; charset=utf-8', String(text)]; },
        json: (value, status = 200) => { out = [status, 'application/json', JSON.stringify(value)]; },
      };
      try {
        await load(body.path || '/usr/code', body.file || 'index.js')(request, response);
      } catch (e) {
        return error(res, 500, String(e && e.stack));
      }
      if (!out) return error(res, 500, 'the function returned without calling send or json');
      reply(res, ...out);
    });
  }).listen(Number(process.env.PORT), '127.0.0.1');
}
