#!/usr/bin/env lua5.4
-- runtime-shim adapter for Lua 5.3 and 5.4: serves the function a user's file returns over adapter protocol 1.
-- The wire format is docs/adapter-protocol.md. Standard library only: requests come in the `kv` encoding (Lua
-- has no JSON parser), and a small JSON encoder below serves res:json().

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

if arg[1] ~= '--worker' then
  -- The protocol owns fds 0 and 1, but Lua can neither dup2 nor close its stdout. So the adapter starts itself
  -- again through sh with the protocol on fds 3 and 4, fd 1 on stderr and fd 0 on /dev/null: all that user
  -- code, C modules and child processes print goes to stderr. This process waits for the worker.
  local first = 0
  while arg[first - 1] do first = first - 1 end -- the interpreter and its options
  local words = {}
  for i = first, 0 do words[#words + 1] = quote(arg[i]) end
  local _, how, code = os.execute('exec ' .. table.concat(words, ' ') .. ' --worker 3<&0 4>&1 </dev/null >&2')
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

local function write_frame(head, body)
  body = body or ''
  if not (proto_out:write(head, ' ', #body, '\n', body) and proto_out:flush()) then fatal('could not write a reply') end
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
  return id, body
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

-- JSON: tables whose keys are exactly 1..n are arrays, other tables objects (keys sorted); an empty table is {}
-- unless marked with res.array(); res.null is null (nil cannot be stored in a table).
local null = setmetatable({}, { __tostring = function() return 'null' end })
local array_mt = { __jsontype = 'array' }
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

local function traceback(e)
  if getmetatable(e) == NotFound then return e end
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

local code_path, entry = os.getenv('SHIM_CODE_PATH'), os.getenv('SHIM_ENTRYPOINT')
if code_path and entry then pcall(load_function, code_path, entry) end -- errors go to the first request
write_frame('READY 1 kv', _VERSION)
while true do
  write_frame(handle(read_frame()))
end
