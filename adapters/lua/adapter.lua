#!/usr/bin/env lua5.4
-- runtime-shim adapter for Lua 5.3 and 5.4: serves the function a user's file returns over adapter protocol 1
-- (the v1 contract, `function(req, res)`), or over adapter protocol 2 (the open-runtimes v5 contract,
-- `function(context)`) when SHIM_PROTOCOL is 2. The wire format is docs/adapter-protocol.md. Standard library
-- only: requests come in the `kv` encoding (Lua has no JSON parser), a small JSON encoder below serves res:json()
-- and context.res.json(), and a small decoder serves context.req.body_json.

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

if arg[1] ~= '--worker' then
  -- The protocol owns fds 0 and 1, but Lua can neither dup2 nor close its stdout. So the adapter starts itself
  -- again through sh with the protocol on fds 3 and 4, fd 1 on stderr and fd 0 on /dev/null: all that user
  -- code, C modules and child processes print goes to stderr. This process waits for the worker.
  local first = 0
  while arg[first - 1] do first = first - 1 end -- the interpreter and its options
  local words = {}
  for i = first, 0 do words[#words + 1] = quote(arg[i]) end
  local settings, unset = '', ''
  if os.getenv('SHIM_PROTOCOL') == '2' then
    -- Under v5 the function's variables are the process environment, without the adapter's own settings. Lua
    -- can neither list nor unset variables: /proc lists them, sh unsets them, and the worker gets the settings
    -- it needs as arguments.
    local f = io.open('/proc/self/environ', 'rb')
    local all = f and f:read('a') or ''
    if f then f:close() end
    local names = {}
    for entry in all:gmatch('[^\0]+') do names[#names + 1] = entry:match('^(SHIM_[%w_]*)=') end
    if #names > 0 then unset = 'unset ' .. table.concat(names, ' ') .. '; ' end
    settings = ' 2 ' .. quote(os.getenv('SHIM_CODE_PATH') or '') .. ' ' .. quote(os.getenv('SHIM_ENTRYPOINT') or '')
  end
  local _, how, code = os.execute(unset .. 'exec ' .. table.concat(words, ' ') .. ' --worker' .. settings .. ' 3<&0 4>&1 </dev/null >&2')
  os.exit(how == 'exit' and code or 128 + (code or 1))
end

local HEADER_MAX = 256
local SELF = arg[0]
local proto_in = assert(io.open('/proc/self/fd/3', 'rb'))  -- needs /proc (Linux): Lua cannot adopt an fd
local proto_out = assert(io.open('/proc/self/fd/4', 'ab'))
io.stdout:setvbuf('line') -- print() is logged line by line, not at exit

local function fatal(message)
  io.stderr:write('lua adapter: ', message, '\n')
  os.exit(2)
end

local function write_frame(head, body, meta) -- protocol 2's frames carry `meta` (M bytes) before the body
  body, meta = body or '', meta or ''
  if not (proto_out:write(head, ' ', #meta + #body, '\n', meta, body) and proto_out:flush()) then fatal('could not write a reply') end
end

local function read_frame()
  local line = ''
  while line:sub(-1) ~= '\n' do -- a bounded read of the header line
    if #line >= HEADER_MAX then fatal('a request header is longer than ' .. HEADER_MAX .. ' bytes') end
    local c = proto_in:read(1)
    if not c then
      if line == '' then os.exit(0) end -- EOF between frames: the shim is done with us
      fatal('input ended inside a request header')
    end
    line = line .. c
  end
  local t = {}
  for token in line:sub(1, -2):gmatch('[^ ]+') do t[#t + 1] = token end
  local id, length = t[2], t[#t]
  if t[1] ~= 'REQ' or #t < 3 or #id > 64 or id:find('[^%w._-]') or not (length == '0' or length:match('^[1-9]%d*$')) then
    fatal('bad request header: ' .. line)
  end
  length = tonumber(length)
  local body = length > 0 and proto_in:read(length) or ''
  if #body ~= length then fatal('input ended inside a request body') end
  return id, body, t
end

-- The `kv` encoding: records "<tag> <K> <V>\n<K bytes of key><V bytes of value>".
local function decode_kv(body)
  local msg, at = { env = {}, headers = {} }, 1
  while at <= #body do
    local tag, k, v, from = body:match('^(%S+) (%d+) (%d+)\n()', at)
    if not tag then fatal('bad request record') end
    local key, value = body:sub(from, from + k - 1), body:sub(from + k, from + k + v - 1)
    at = from + k + v
    if at > #body + 1 then fatal('a request record overruns the body') end
    if tag == 'env' then msg.env[key] = value elseif tag == 'header' then msg.headers[key] = value else msg[tag] = value end
  end
  return msg
end

-- JSON: tables whose keys are exactly 1..n are arrays, other tables objects (keys sorted, except that an object
-- the decoder made keeps its keys' order); an empty table is {} unless marked with res.array(); res.null is null
-- (nil cannot be stored in a table).
local null = setmetatable({}, { __tostring = function() return 'null' end })
local array_mt = { __jsontype = 'array' }
local key_order = setmetatable({}, { __mode = 'k' }) -- object made by decode_json -> its keys, as they came
local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function encode(v, out, depth)
  local t = type(v)
  if depth > 100 then error('res:json(): nested too deep (a cycle?)', 0) end
  if v == nil or v == null then
    out[#out + 1] = 'null'
  elseif t == 'boolean' then
    out[#out + 1] = tostring(v)
  elseif t == 'number' then
    if v ~= v or v == math.huge or v == -math.huge then error('res:json(): ' .. tostring(v) .. ' is not JSON', 0) end
    local s = math.type(v) == 'integer' and string.format('%d', v) or string.format('%.14g', v)
    if tonumber(s) ~= v then s = string.format('%.17g', v) end
    out[#out + 1] = s
  elseif t == 'string' then
    if not utf8.len(v) then error('res:json(): a string is not valid UTF-8', 0) end
    out[#out + 1] = '"' .. v:gsub('[%c"\\]', function(c) return escapes[c] or string.format('\\u%04x', c:byte()) end) .. '"'
  elseif t == 'table' then
    local keys, n = {}, #v
    for k in pairs(v) do keys[#keys + 1] = k end
    if #keys == n and (n > 0 or getmetatable(v) == array_mt) then
      out[#out + 1] = '['
      for i = 1, n do
        if i > 1 then out[#out + 1] = ',' end
        encode(v[i], out, depth + 1)
      end
      out[#out + 1] = ']'
    else
      for i, k in ipairs(keys) do
        if math.type(k) == 'integer' then keys[i] = string.format('%d', k)
        elseif type(k) ~= 'string' then error('res:json(): a table key is a ' .. type(k) .. ', not a string', 0) end
      end
      table.sort(keys)
      local order = key_order[v]
      if order then -- the decoded keys still present, in their order, then any others, sorted
        local first, seen = {}, {}
        for _, k in ipairs(order) do
          if v[k] ~= nil and not seen[k] then first[#first + 1], seen[k] = k, true end
        end
        for _, k in ipairs(keys) do
          if not seen[k] then first[#first + 1] = k end
        end
        keys = first
      end
      out[#out + 1] = '{'
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = ',' end
        encode(k, out, depth + 1)
        out[#out + 1] = ':'
        local value = v[k]
        if value == nil then value = v[tonumber(k)] end
        encode(value, out, depth + 1)
      end
      out[#out + 1] = '}'
    end
  else
    error('res:json(): a ' .. t .. ' is not JSON', 0)
  end
end

local function to_json(v)
  local out = {}
  encode(v, out, 0)
  return table.concat(out)
end

-- The decoder: objects are tables (their key order kept for the encoder), arrays are tables marked as arrays,
-- null is res.null; integers stay integers. A syntax error raises `invalid JSON at byte N: ...`.
local function decode_json(s)
  if not utf8.len(s) then error('invalid JSON: the text is not valid UTF-8', 0) end
  local at, value = 1, nil
  local function fail(what) error(string.format('invalid JSON at byte %d: %s', at, what), 0) end
  local function space() at = s:find('[^ \t\r\n]', at) or #s + 1 end
  local function digits() -- one or more
    if not s:find('^%d', at) then fail('a digit expected') end
    at = s:find('%D', at) or #s + 1
  end
  local escapes_in = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }
  local function text()
    local out = {}
    at = at + 1
    while true do
      local stop = s:find('[%c"\\]', at)
      if not stop then fail('the string does not end') end
      out[#out + 1] = s:sub(at, stop - 1)
      local c = s:sub(stop, stop)
      at = stop
      if c == '"' then at = stop + 1 return table.concat(out) end
      if c ~= '\\' then
        if c == '\127' then out[#out + 1], at = c, stop + 1 else fail('a control character in a string') end
      else
        local e = s:sub(stop + 1, stop + 1)
        if escapes_in[e] then
          out[#out + 1], at = escapes_in[e], stop + 2
        elseif e == 'u' then
          local hex = s:match('^%x%x%x%x', stop + 2)
          if not hex then fail('a bad \\u escape') end
          local code = tonumber(hex, 16)
          at = stop + 6
          if code >= 0xD800 and code <= 0xDBFF then -- a surrogate pair is one character
            local low = s:match('^\\u([dD][c-fC-F]%x%x)', at)
            if low then code, at = 0x10000 + (code - 0xD800) * 0x400 + (tonumber(low, 16) - 0xDC00), at + 6 else code = 0xFFFD end
          elseif code >= 0xDC00 and code <= 0xDFFF then
            code = 0xFFFD -- a lone surrogate has no UTF-8 form
          end
          out[#out + 1] = utf8.char(code)
        else
          fail('a bad escape')
        end
      end
    end
  end
  local function parse(depth)
    if depth > 200 then fail('nested too deep') end
    space()
    local c = s:sub(at, at)
    if c == '{' then
      local obj, keys = {}, {}
      at = at + 1
      space()
      if s:sub(at, at) == '}' then at = at + 1 key_order[obj] = keys return obj end
      while true do
        space()
        if s:sub(at, at) ~= '"' then fail('a key expected') end
        local k = text()
        space()
        if s:sub(at, at) ~= ':' then fail("':' expected") end
        at = at + 1
        local v = parse(depth + 1)
        if obj[k] == nil then keys[#keys + 1] = k end
        obj[k] = v
        space()
        c = s:sub(at, at)
        at = at + 1
        if c == '}' then key_order[obj] = keys return obj end
        if c ~= ',' then at = at - 1 fail("',' or '}' expected") end
      end
    elseif c == '[' then
      local arr = setmetatable({}, array_mt)
      at = at + 1
      space()
      if s:sub(at, at) == ']' then at = at + 1 return arr end
      while true do
        arr[#arr + 1] = parse(depth + 1)
        space()
        c = s:sub(at, at)
        at = at + 1
        if c == ']' then return arr end
        if c ~= ',' then at = at - 1 fail("',' or ']' expected") end
      end
    elseif c == '"' then
      return text()
    elseif s:find('^true', at) then at = at + 4 return true
    elseif s:find('^false', at) then at = at + 5 return false
    elseif s:find('^null', at) then at = at + 4 return null
    elseif c == '-' or c:find('%d') then
      local start, exact = at, true
      if c == '-' then at = at + 1 end
      if s:sub(at, at) == '0' then at = at + 1 else digits() end
      if s:sub(at, at) == '.' then at, exact = at + 1, false digits() end
      if s:find('^[eE]', at) then
        at, exact = at + 1, false
        if s:find('^[-+]', at) then at = at + 1 end
        digits()
      end
      local n = tonumber(s:sub(start, at - 1))
      return exact and math.tointeger(n) or n
    elseif c == '' then
      fail('the text ends where a value was expected')
    end
    fail('a value expected')
  end
  value = parse(0)
  space()
  if at <= #s then fail('text after the value') end
  return value
end

local function new_response()
  local res = { null = null }
  local function set(status, type_, body)
    status = status or 200
    if math.type(status) ~= 'integer' or status < 200 or status > 599 then
      error('status must be an integer from 200 to 599, not ' .. tostring(status), 3)
    end
    res.reply = { status, type_, body } -- the last call wins
  end
  -- Both res:send(text) and res.send(text) work.
  function res.send(a, b, c)
    if a == res then a, b = b, c end
    if type(a) ~= 'string' then error('res:send() takes a string, not a ' .. type(a), 2) end
    set(b, 'text', a)
  end
  function res.json(a, b, c)
    if a == res then a, b = b, c end
    local out = {}
    encode(a, out, 0)
    set(b, 'json', table.concat(out))
  end
  function res.array(t) return setmetatable(t or {}, array_mt) end
  return res
end

local NotFound = {} -- the metatable of 404 errors: the entry file or its function is missing
local function not_found(message) error(setmetatable({ message = message }, NotFound), 0) end

local LoadFailed = {} -- the metatable of 503 errors (protocol 2): the entry file is missing, fails or has no function

local function traceback(e)
  if getmetatable(e) == NotFound or getmetatable(e) == LoadFailed then return e end
  local text = debug.traceback(type(e) == 'string' and e or tostring(e), 2)
  local lines = {} -- the language's own report, without the adapter's frames
  for line in text:gmatch('[^\n]+') do
    if not line:find(SELF, 1, true) and not line:find("in function 'xpcall'", 1, true) and line ~= '\t[C]: in ?' then lines[#lines + 1] = line end
  end
  return table.concat(lines, '\n')
end

local functions = {} -- full path of the entry file -> its function; each file is loaded once

local function load_function(dir, file)
  if file == '' then not_found('no entry file was named for ' .. dir .. ": the request's file is empty and the image sets no APPWRITE_ENTRYPOINT_NAME") end
  local full = file:sub(1, 1) == '/' and file or dir:gsub('/*$', '') .. '/' .. file
  if functions[full] then return functions[full] end
  local f = io.open(full, 'rb')
  local _, is_dir = f and f:read(1) -- nil, "Is a directory" for a folder
  if f then f:close() end
  if not f or is_dir then
    not_found('entry file ' .. full .. ' does not exist: expected a file that returns function(req, res)')
  end
  local dir_of = full:match('^(.*)/') or '.'
  if not package.path:find(dir_of .. '/?.lua;', 1, true) then -- like `lua file.lua`: sibling modules load
    package.path = dir_of .. '/?.lua;' .. dir_of .. '/?/init.lua;' .. package.path
  end
  -- Each file gets its own globals (reading through to _G): two files cannot clash. A failure here is a 500,
  -- and nothing is cached, so the next request retries.
  local env = setmetatable({}, { __index = _G })
  local chunk = assert(loadfile(full, 't', env))
  local fn = chunk()
  if type(fn) ~= 'function' then fn = rawget(env, 'main') end
  if type(fn) ~= 'function' then not_found(full .. ' returns no function: expected `return function(req, res) ... end`') end
  functions[full] = fn
  return fn
end

local function handle(id, body)
  local msg = decode_kv(body)
  local dir = (msg.path or '') ~= '' and msg.path or os.getenv('SHIM_CODE_PATH') or '/usr/code'
  local res = new_response()
  local ok, err = xpcall(function()
    local fn = load_function(dir, msg.file or '')
    local req = { env = msg.env, payload = msg.payload or '', headers = msg.headers,
                  timeout_ms = tonumber(msg.timeout_ms), deadline_ms = tonumber(msg.deadline_ms) }
    fn(req, res)
  end, traceback)
  io.stdout:flush() -- what the function printed is logged before its reply
  if not ok and getmetatable(err) == NotFound then return 'ERR ' .. id .. ' 404', err.message end
  if not ok then return 'ERR ' .. id .. ' 500', err end
  if not res.reply then
    return 'ERR ' .. id .. ' 500', 'the function in ' .. dir .. '/' .. (msg.file or '') .. ' returned without calling res:send() or res:json()'
  end
  return string.format('RES %s %d %s', id, res.reply[1], res.reply[2]), res.reply[3]
end

-- ---- Protocol 2: open-runtimes' v5 API, `function(context)` ----------------------------------------------------
-- The shim has computed everything `context.req` shows and applies the contract's rules to the reply (header
-- names and filtering, content-type and charset, log truncation, log files); here the function is loaded,
-- `context` is built and bytes move.

local LOG_LINE_MAX = 65536 -- bytes per LOG frame: far past the shim's 8000-character cut, far under its frame limit
local serving = nil -- the id of the request being served, nil between requests

local function load_failed(message) error(setmetatable({ message = message }, LoadFailed), 0) end

local function load_v5(dir, file)
  local full = file:sub(1, 1) == '/' and file or dir:gsub('/*$', '') .. '/' .. file
  if functions[full] then return functions[full] end
  local f = file ~= '' and io.open(full, 'rb')
  local _, is_dir = f and f:read(1) -- nil, "Is a directory" for a folder
  if f then f:close() end
  if not f or is_dir then load_failed('Failed to load entrypoint, file ' .. file .. ' does not exist.') end
  local dir_of = full:match('^(.*)/') or '.'
  if not package.path:find(dir_of .. '/?.lua;', 1, true) then -- like `lua main.lua`: sibling modules load
    package.path = dir_of .. '/?.lua;' .. dir_of .. '/?/init.lua;' .. package.path
  end
  -- Its own globals, as in protocol 1; nothing is cached on failure, so a later request loads it again.
  local env = setmetatable({}, { __index = _G })
  local chunk, err = loadfile(full, 't', env)
  if not chunk then load_failed(err) end -- a syntax error: "file:line: message"
  local ok, fn = xpcall(chunk, traceback)
  if not ok then load_failed(fn) end
  if type(fn) ~= 'function' then fn = rawget(env, 'main') end
  if type(fn) ~= 'function' then load_failed("Function signature invalid. Did you forget to export a 'main' function?") end
  functions[full] = fn
  return fn
end

local function status_of(status, level) -- `level` as error() counts it, from here
  local n = math.tointeger(status)
  if not n or n < 200 or n > 599 then
    error('the status code must be an integer from 200 to 599, not ' .. tostring(status), level)
  end
  return n
end

-- A response is a table { body = string, statusCode = integer, headers = table }, as in open-runtimes; only the
-- one the function returns is the reply. `replace` = { name, value } is set over any spelling of that name.
-- Errors point at the user's call: response <- a helper <- its dot-or-colon wrapper <- the caller (no tail calls).
local function response(body, status, headers, replace)
  if type(body) == 'number' then body = tostring(body) end
  if type(body) ~= 'string' then error('the body must be a string, not a ' .. type(body), 4) end
  if headers ~= nil and type(headers) ~= 'table' then error('the headers must be a table, not a ' .. type(headers), 4) end
  local copy = {}
  for name, value in pairs(headers or {}) do
    if not (replace and type(name) == 'string' and name:lower() == replace[1]) then copy[name] = value end
  end
  if replace then copy[replace[1]] = replace[2] end
  return { body = body, statusCode = status_of(status, 5), headers = copy }
end

local context_res = { null = null, array = function(t) return setmetatable(t or {}, array_mt) end }
-- Each helper works called with a dot or a colon (`context.res.text(...)`, `context.res:text(...)`).
local function helper(f)
  return function(first, ...)
    local out
    if rawequal(first, context_res) then out = f(...) else out = f(first, ...) end
    return out
  end
end
local function text(body, status, headers)
  local out = response(body, status or 200, headers)
  return out
end
context_res.text, context_res.binary, context_res.send = helper(text), helper(text), helper(text) -- send: deprecated
context_res.json = helper(function(value, status, headers)
  local ok, data = pcall(to_json, value)
  if not ok then error(data, 3) end
  local out = response(data, status or 200, headers, { 'content-type', 'application/json' })
  return out
end)
context_res.empty = helper(function()
  local out = response('', 204)
  return out
end)
context_res.redirect = helper(function(url, status, headers)
  if type(url) ~= 'string' then error('the url must be a string, not a ' .. type(url), 3) end
  local out = response('', status or 301, headers, { 'location', url })
  return out
end)

local function log_piece(v)
  if type(v) == 'string' then return v end
  local ok, text = pcall(to_json, v) -- every other value as compact JSON; what JSON cannot show, as tostring()
  return ok and text or tostring(v)
end

local function write_log(id, stream, ...)
  local pieces = table.pack(...)
  for i = 1, pieces.n do pieces[i] = log_piece(pieces[i]) end
  local line = table.concat(pieces, ' ', 1, pieces.n)
  if #line > LOG_LINE_MAX then -- cut between two UTF-8 characters
    local cut = LOG_LINE_MAX
    while cut > 0 and (line:byte(cut + 1) or 0) & 0xC0 == 0x80 do cut = cut - 1 end
    line = line:sub(1, cut)
  end
  if id == serving then
    io.stdout:flush() -- the order of what it printed and what it logged is kept as far as the shim can
    write_frame('LOG ' .. id .. ' ' .. stream, line)
  else
    -- Its execution has ended (a coroutine that outlived it): a LOG frame would carry a stale id, so the line is
    -- native output instead.
    io.stderr:write(line, '\n')
  end
end

-- The `kv` metadata of protocol 2: fixed records, then `header` and `query` ones.
local function decode_meta(meta)
  local msg, at = { headers = {}, query = {} }, 1
  while at <= #meta do
    local tag, k, v, from = meta:match('^(%S+) (%d+) (%d+)\n()', at)
    if not tag then fatal('bad request record') end
    local key, value = meta:sub(from, from + k - 1), meta:sub(from + k, from + k + v - 1)
    at = from + k + v
    if at > #meta + 1 then fatal('a request record overruns the metadata') end
    if tag == 'header' then msg.headers[key] = value elseif tag == 'query' then msg.query[key] = value else msg[tag] = value end
  end
  return msg
end

local function new_context(id, meta, raw)
  local req = {
    body_binary = raw, headers = meta.headers, query = meta.query, method = meta.method or '',
    scheme = meta.scheme or '', host = meta.host or '', port = tonumber(meta.port), path = meta.path or '',
    query_string = meta.query_string or '', url = meta.url or '',
  }
  local json_body = meta.json_body == '1'
  -- The body's views are computed when read; body_json is parsed on every read (each caller gets its own tables).
  setmetatable(req, { __index = function(_, name)
    if name == 'body_text' or name == 'body_raw' then return raw end
    if name == 'body_json' then return decode_json(raw) end
    if name == 'body' then
      if not json_body then return raw end
      return raw == '' and {} or decode_json(raw)
    end
  end })
  local context = { req = req, res = context_res }
  local function logger(stream)
    return function(first, ...) -- context.log(...) and context:log(...)
      if rawequal(first, context) then return write_log(id, stream, ...) end
      return write_log(id, stream, first, ...)
    end
  end
  context.log, context.error = logger('log'), logger('error')
  return context
end

local function encode_reply(id, out)
  if out == nil then return 'NONE ' .. id end
  if type(out) ~= 'table' or type(out.body) ~= 'string' then
    error('the function returned a ' .. type(out) .. ', not a response: return context.res.text(), .json(), '
      .. '.binary(), .redirect() or .empty()', 0)
  end
  local names = {}
  for name in pairs(out.headers or {}) do
    if type(name) ~= 'string' then error('a header name is a ' .. type(name) .. ', not a string', 0) end
    names[#names + 1] = name
  end
  table.sort(names)
  local records = {}
  local function record(name, value)
    if math.type(value) == 'integer' then value = string.format('%d', value)
    elseif type(value) == 'number' or type(value) == 'boolean' then value = tostring(value)
    elseif type(value) ~= 'string' then error('the value of header ' .. name .. ' is a ' .. type(value), 0) end
    records[#records + 1] = 'header ' .. #name .. ' ' .. #value .. '\n' .. name .. value
  end
  for _, name in ipairs(names) do
    local value = out.headers[name]
    if type(value) == 'table' then -- a list: the header repeats (set-cookie)
      for _, one in ipairs(value) do record(name, one) end
    else
      record(name, value)
    end
  end
  local meta = table.concat(records)
  return string.format('RES %s %d %d', id, status_of(out.statusCode or 200, 0), #meta), out.body, meta
end

local function handle_v5(id, meta, raw, dir, entry)
  local head, body, reply_meta
  local ok, err = xpcall(function()
    local fn = load_v5(dir, entry)
    head, body, reply_meta = encode_reply(id, fn(new_context(id, decode_meta(meta), raw)))
  end, traceback)
  if ok then return head, body, reply_meta end
  if getmetatable(err) == LoadFailed then return 'ERR ' .. id .. ' 503', err.message end
  return 'ERR ' .. id .. ' 500', err
end

local function serve_v5(dir, entry)
  if dir == '' then dir = '/usr/local/server/src/function' end
  pcall(load_v5, dir, entry) -- a failure is reported to every request until one loads it
  write_frame('READY 2 kv', _VERSION)
  while true do
    local id, body, t = read_frame()
    local m = t[3]
    if #t ~= 4 or not (m == '0' or m:match('^[1-9]%d*$')) or tonumber(m) > #body then fatal('bad request header: ' .. table.concat(t, ' ')) end
    m = tonumber(m)
    serving = id -- from here until the reply, context.log writes LOG frames with this id
    local head, reply, reply_meta = handle_v5(id, body:sub(1, m), body:sub(m + 1), dir, entry)
    body = nil
    io.stdout:flush() -- what the function printed is logged before its reply
    serving = nil
    write_frame(head, reply, reply_meta)
  end
end

if arg[2] == '2' then serve_v5(arg[3] or '', arg[4] or '') end

local code_path, entry = os.getenv('SHIM_CODE_PATH'), os.getenv('SHIM_ENTRYPOINT')
if code_path and entry then pcall(load_function, code_path, entry) end -- errors go to the first request
write_frame('READY 1 kv', _VERSION)
while true do
  write_frame(handle(read_frame()))
end
