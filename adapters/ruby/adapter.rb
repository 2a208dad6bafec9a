#!/usr/bin/env ruby
# frozen_string_literal: true
# runtime-shim adapter for Ruby 2.7+: serves a user's `main(req, res)` over adapter protocol 1 (the v1 contract),
# or open-runtimes' `main(context)` over adapter protocol 2 (the v5 contract) when SHIM_PROTOCOL is 2.
# The wire format is docs/adapter-protocol.md. Standard library only (json is a default gem).
require 'json'

# The protocol owns fds 0 and 1. Keep private copies (Ruby opens them close-on-exec), then point fd 1 at
# stderr and fd 0 at /dev/null, so that nothing user code, a C extension or a child process prints or reads
# can touch a frame.
PROTO_OUT = STDOUT.dup.binmode
PROTO_IN = STDIN.dup.binmode
STDOUT.reopen(STDERR)
STDIN.reopen(File::NULL)
PROTO_OUT.sync = STDOUT.sync = STDERR.sync = true # user output is logged line by line, not at exit

PROTOCOL = ENV['SHIM_PROTOCOL'] == '2' ? 2 : 1
HEADER_MAX = 256
SELF = File.expand_path(__FILE__)
# Frames are written by this process only (a child the function forked shares the pipe), and whole frames under
# one lock: the function's threads may log while it runs.
PID = Process.pid
FRAMES = Mutex.new

def fatal(message)
  STDERR.puts "ruby adapter: #{message}"
  exit!(2)
end

# One frame: the header line with the parts' total length, then the parts. The caller holds FRAMES.
def send_frame(head, *parts)
  PROTO_OUT.write("#{head} #{parts.sum(&:bytesize)}\n".b, *parts.map(&:b)) # IO#write writes everything
end

def write_frame(head, *parts)
  FRAMES.synchronize { send_frame(head, *parts) } if Process.pid == PID
end

# ---- One execution must not reach into the next -------------------------------------------------------------
# Each execution starts in the working directory and with the environment the adapter had when it became ready; a
# child the function forked that returns through the adapter exits there. A thread (Thread.new) remembers the
# execution it was started under: an exception that ends it after that execution's reply is logged as that
# execution's, as a LOG frame under its id while another request is served, on stderr (no request's) between
# requests, never as the next execution's native output.
$serving = nil # the id of the request being served, nil between requests

def late_line(rid, line)
  if Process.pid == PID
    FRAMES.synchronize do
      return send_frame("LOG #{rid} log", line.b) if $serving && rid != $serving
    end
  end
  STDERR.puts(line)
rescue IOError, SystemCallError
  nil
end

module ThreadOrigin
  def initialize(*args, &block)
    return super unless block

    rid = Thread.current[:shim_rid] || $serving
    super(*args) do |*a|
      Thread.current[:shim_rid] = rid
      begin
        block.call(*a)
      rescue Exception => e # rubocop:disable Lint/RescueException
        if rid && rid != $serving && Thread.current.report_on_exception
          Thread.current.report_on_exception = false # reported here, under its execution
          late_line(rid, "a thread of execution #{rid} ended after its reply: #{e.full_message(highlight: false).chomp}")
        end
        raise
      end
    end
  end
end
Thread.prepend(ThreadOrigin)

START = {}

def keep_start_state
  START[:dir] = Dir.pwd
  START[:env] = ENV.to_h
end

def restore_start_state
  Dir.chdir(START[:dir]) if Dir.pwd != START[:dir]
  ENV.replace(START[:env]) if ENV.to_h != START[:env]
rescue SystemCallError
  nil # its directory was removed: going back fails as well
end

def read_header
  line = PROTO_IN.gets("\n", HEADER_MAX + 1)
  exit(0) if line.nil? # EOF between frames: the shim is done with us
  fatal("a request header is longer than #{HEADER_MAX} bytes") if line.bytesize > HEADER_MAX
  fatal('input ended inside a request header') unless line.end_with?("\n")
  tokens = line.chomp.split(' ', -1)
  unless tokens[0] == 'REQ' && tokens.size >= 3 && tokens[1] =~ /\A[A-Za-z0-9._-]{1,64}\z/ && tokens[-1] =~ /\A(0|[1-9][0-9]*)\z/
    fatal("bad request header: #{line.inspect}")
  end
  tokens
end

def read_exactly(size)
  data = PROTO_IN.read(size) || ''.b
  fatal('input ended inside a request body') if data.bytesize != size
  data
end

# Protocol 1: `REQ <id> <N>` and the request's JSON.
def read_frame
  tokens = read_header
  [tokens[1], read_exactly(tokens[-1].to_i)]
end

# Protocol 2: `REQ <id> <M> <N>`, then M bytes of JSON metadata and N - M bytes of raw body.
def read_frame2
  tokens = read_header
  unless tokens.size == 4 && tokens[2] =~ /\A(0|[1-9][0-9]*)\z/ && tokens[2].to_i <= tokens[3].to_i
    fatal("bad request header: #{tokens.join(' ').inspect}")
  end
  meta = tokens[2].to_i
  [tokens[1], read_exactly(meta), read_exactly(tokens[3].to_i - meta)]
end

# The entry file or its function is missing: a 404, not the user's bug at run time.
class NotFound < StandardError; end

class Request
  attr_reader :env, :payload, :headers

  def initialize(msg)
    @env = msg['env'] || {}
    @payload = msg['payload'] || ''
    @headers = msg['headers'] || {}
  end
end

class Response
  attr_reader :reply # [status, type, body] of the last send/json call

  # `send` is the documented name; the adapter itself dispatches with __send__.
  def send(text, status = 200)
    raise TypeError, "res.send takes a String, not #{text.class}" unless text.is_a?(String)

    set(status, 'text', text.b)
  end

  def json(value, status = 200)
    set(status, 'json', JSON.generate(value).b) # NaN, Infinity and invalid UTF-8 raise
  end

  private

  def set(status, type, body)
    unless status.is_a?(Integer) && status.between?(200, 599)
      raise ArgumentError, "status must be an integer from 200 to 599, not #{status.inspect}"
    end

    @reply = [status, type, body]
  end
end

FUNCTIONS = {} # absolute path of the entry file -> an object whose `main` is that file's

def load_function(dir, file)
  if file.empty?
    raise NotFound, "no entry file was named for #{dir}: the request's file is empty and the image sets no APPWRITE_ENTRYPOINT_NAME"
  end

  full = File.expand_path(file, dir)
  return FUNCTIONS[full] if FUNCTIONS.key?(full)
  raise NotFound, "entry file #{full} does not exist: expected a file defining main(req, res)" unless File.file?(full)

  # Each file gets its own module: its methods and constants do not clash with another file's. A failure here
  # is a 500 and nothing is cached, so the next request retries.
  mod = Module.new
  if Gem::Version.new(RUBY_VERSION) >= Gem::Version.new('3.1')
    load(full, mod) # top-level defs and constants go into mod
  else
    mod.module_eval(File.read(full), full, 1)
  end
  unless mod.method_defined?(:main) || mod.private_method_defined?(:main)
    raise NotFound, "#{full} defines no function main(req, res)"
  end

  FUNCTIONS[full] = Object.new.extend(mod)
end

def describe(error)
  # The language's own report, from the user's frame down; the adapter's frames only hide it.
  error.set_backtrace(error.backtrace.reject { |l| l.start_with?(SELF) }) if error.backtrace
  error.full_message(highlight: false, order: :top)
end

def handle(rid, body)
  msg = JSON.parse(body)
  dir = msg['path'].to_s.empty? ? ENV.fetch('SHIM_CODE_PATH', '/usr/code') : msg['path']
  file = msg['file'].to_s
  runner = load_function(dir, file)
  res = Response.new
  runner.__send__(:main, Request.new(msg), res)
  unless res.reply
    return ["ERR #{rid} 500", "main(req, res) in #{File.expand_path(file, dir)} returned without calling res.send or res.json"]
  end

  status, type, data = res.reply
  ["RES #{rid} #{status} #{type}", data]
rescue NotFound => e
  ["ERR #{rid} 404", e.message]
rescue SystemExit, SignalException
  raise # exit ends the adapter, as it would end a script; the shim starts a fresh one
rescue Exception => e # rubocop:disable Lint/RescueException -- SyntaxError, LoadError, NoMemoryError too
  ["ERR #{rid} 500", describe(e)]
end

# Protocol 2: open-runtimes' v5 API, `def main(context)`. The shim has computed everything `context.req` shows and
# applies the contract's rules to the reply (header names and filtering, content-type and charset, log truncation,
# log files); here the function is loaded, `context` is built and bytes move. The class names are open-runtimes'.

LOG_LINE_MAX = 1 << 16 # characters per LOG frame: far past the shim's 8000-character cut, far under its frame limit

# The entry file is missing, fails to load or defines no main: a 503, with this message in the errors log.
class LoadFailed < StandardError; end

# `context.req`: the request as the shim computed it, and its raw body, decoded only when asked.
class RuntimeRequest
  attr_reader :body_binary, :headers, :method, :scheme, :host, :port, :path, :query_string, :query, :url

  def initialize(meta, body)
    @body_binary = body # bytes (ASCII-8BIT)
    @headers = meta['headers'] || {}
    @method = meta['method'] || ''
    @scheme = meta['scheme'] || ''
    @host = meta['host'] || ''
    @port = meta['port']
    @path = meta['path'] || ''
    @query_string = meta['query_string'] || ''
    @query = meta['query'] || {}
    @url = meta['url'] || ''
    @json_body = meta['json_body'] == true
  end

  def body_text # the bytes as a UTF-8 String (not checked: `valid_encoding?` says)
    @body_text ||= @body_binary.dup.force_encoding(Encoding::UTF_8)
  end

  def body_raw # deprecated: the text
    body_text
  end

  def body_json # parsed on every call, so each caller gets its own objects; "" is invalid JSON
    JSON.parse(body_text)
  end

  def body # the shim says whether the content-type is application/json
    return body_text unless @json_body

    @body_binary.empty? ? {} : body_json
  end
end

# `context.res`: each helper returns a response (a Hash, as in open-runtimes); only what main returns is the reply.
class RuntimeResponse
  def text(body, status_code = 200, headers = {})
    raise TypeError, "context.res.text takes a String, not #{body.class}" unless body.is_a?(String)

    v5_response(body.b, status_code, headers)
  end

  def binary(bytes, status_code = 200, headers = {})
    bytes = bytes.pack('C*') if bytes.is_a?(Array) # an Array of byte values works too
    raise TypeError, "context.res.binary takes a String of bytes, not #{bytes.class}" unless bytes.is_a?(String)

    v5_response(bytes.b, status_code, headers)
  end

  def send(body, status_code = 200, headers = {}) # deprecated: the body as text (`__send__` is Ruby's send)
    v5_response(body.to_s.b, status_code, headers)
  end

  def json(obj, status_code = 200, headers = {})
    v5_response(JSON.generate(obj).b, status_code, headers, ['content-type', 'application/json'])
  end

  def empty
    v5_response(''.b, 204, {})
  end

  def redirect(url, status_code = 301, headers = {})
    v5_response(''.b, status_code, headers, ['location', url.to_s])
  end

  private

  def v5_response(body, status_code, headers, replace = nil)
    { 'body' => body, 'statusCode' => v5_status(status_code), 'headers' => v5_headers(headers, replace) }
  end
end

# Checked in the helpers, so that a bad status is a 500 whose backtrace points at the user's call.
def v5_status(status)
  unless status.is_a?(Integer) && status.between?(200, 599)
    raise ArgumentError, "status_code must be an integer from 200 to 599, not #{status.inspect}"
  end

  status
end

# A copy of a response's headers; `replace` = [name, value] is set over any spelling of that name.
def v5_headers(headers, replace = nil)
  headers = {} if headers.nil?
  raise TypeError, "headers must be a Hash, not #{headers.class}" unless headers.is_a?(Hash)

  headers = headers.dup
  if replace
    headers.delete_if { |name, _| name.to_s.downcase == replace[0] }
    headers[replace[0]] = replace[1]
  end
  headers
end

class RuntimeContext
  attr_reader :req, :res

  def initialize(rid, meta, body)
    @req = RuntimeRequest.new(meta, body)
    @res = RuntimeResponse.new
    @rid = rid
  end

  def log(*messages)
    write_log(@rid, 'log', messages)
  end

  def error(*messages)
    write_log(@rid, 'error', messages)
  end
end

def log_piece(value)
  case value
  when String then value
  when nil, true, false, Numeric, Hash, Array then JSON.generate(value) # compact JSON: 42, true, null, {"a":1}
  else value.to_s # what JSON cannot show, as Ruby prints it
  end
rescue StandardError # NaN, Infinity, invalid UTF-8, nesting
  value.to_s
end

def write_log(rid, stream, messages)
  line = messages.map { |m| log_piece(m) }.join(' ')
  line = line[0, LOG_LINE_MAX] if line.length > LOG_LINE_MAX
  if Process.pid == PID
    FRAMES.synchronize do
      return send_frame("LOG #{rid} #{stream}", line.b) if rid == $serving
    end
  end
  # Its execution has ended (a thread that outlived it), or this is a forked child.
  late_line(rid, line)
end

def load_context_main(code_path, entry)
  full = File.expand_path(entry, code_path)
  return FUNCTIONS[full] if FUNCTIONS.key?(full)
  raise LoadFailed, "Failed to load entrypoint, file #{entry} does not exist." if entry.empty? || !File.file?(full)

  mod = Module.new # as in protocol 1: the file's methods and constants go into a module of its own
  begin
    if Gem::Version.new(RUBY_VERSION) >= Gem::Version.new('3.1')
      load(full, mod)
    else
      mod.module_eval(File.read(full), full, 1)
    end
  rescue SystemExit, SignalException
    raise
  rescue Exception => e # rubocop:disable Lint/RescueException -- SyntaxError, LoadError too; nothing is cached
    raise LoadFailed, describe(e)
  end
  unless mod.method_defined?(:main) || mod.private_method_defined?(:main)
    raise LoadFailed, "Function signature invalid. Did you forget to export a 'main' function?"
  end

  FUNCTIONS[full] = Object.new.extend(mod)
end

def encode_reply(rid, out, entry)
  return ["NONE #{rid}"] if out.nil?
  unless out.is_a?(Hash)
    raise TypeError, "main(context) in #{entry} returned #{out.class}, not a response: return context.res.text, " \
                     '.json, .binary, .redirect or .empty'
  end

  field = ->(name) { out.key?(name) ? out[name] : out[name.to_sym] }
  body = field.call('body')
  body = body.nil? ? ''.b : body
  raise TypeError, "the response's body must be a String, not #{body.class}" unless body.is_a?(String)

  status = v5_status(field.call('statusCode') || 200)
  pairs = []
  v5_headers(field.call('headers')).each do |name, value|
    (value.is_a?(Array) ? value : [value]).each do |one| # an Array: the header repeats
      pairs << [name, one].map { |s| s.to_s.dup.force_encoding(Encoding::UTF_8).scrub }
    end
  end
  meta = JSON.generate(pairs)
  ["RES #{rid} #{status} #{meta.bytesize}", meta, body]
end

def handle2(rid, meta, raw, code_path, entry)
  runner = load_context_main(code_path, entry)
  encode_reply(rid, runner.__send__(:main, RuntimeContext.new(rid, JSON.parse(meta), raw)), entry)
rescue LoadFailed => e
  ["ERR #{rid} 503", e.message]
rescue SystemExit, SignalException
  raise # exit ends the adapter, as it would end a script; the shim starts a fresh one
rescue Exception => e # rubocop:disable Lint/RescueException
  ["ERR #{rid} 500", describe(e)]
end

def serve2
  contract = ENV['SHIM_CONTRACT'] || 'v5'
  fatal("protocol 2 presents the v5 context API, not the #{contract} contract") unless %w[v5 http].include?(contract)
  code_path = ENV['SHIM_CODE_PATH'] || '/usr/local/server/src/function'
  entry = ENV['SHIM_ENTRYPOINT'] || ''
  # The function's variables are the process environment; the adapter's settings are not among them.
  ENV.keys.each { |name| ENV.delete(name) if name.start_with?('SHIM_') }
  begin
    load_context_main(code_path, entry)
  rescue LoadFailed
    nil # reported to every request until one loads it
  end
  keep_start_state
  write_frame('READY 2 json', "ruby #{RUBY_VERSION}")
  loop do
    rid, meta, raw = read_frame2
    restore_start_state
    FRAMES.synchronize { $serving = rid } # from here until the reply, context.log writes LOG frames with this id
    head, *parts = handle2(rid, meta, raw, code_path, entry)
    exit!(0) if Process.pid != PID # a child the function forked, returning through the adapter: it never serves
    FRAMES.synchronize do
      $serving = nil # a log call from now on has no request: it goes to stderr
      send_frame(head, *parts)
    end
  end
end

serve2 if PROTOCOL == 2

code_path, entry = ENV['SHIM_CODE_PATH'], ENV['SHIM_ENTRYPOINT']
if code_path && entry && File.file?(File.expand_path(entry, code_path))
  begin
    load_function(code_path, entry)
  rescue Exception # rubocop:disable Lint/RescueException
    nil # reported, with its backtrace, to the first request that needs this file
  end
end
keep_start_state
write_frame('READY 1 json', "ruby #{RUBY_VERSION}")
loop do
  rid, body = read_frame
  restore_start_state
  FRAMES.synchronize { $serving = rid }
  head, reply = handle(rid, body)
  exit!(0) if Process.pid != PID # a child the function forked, returning through the adapter: it never serves
  FRAMES.synchronize do
    $serving = nil
    send_frame(head, reply)
  end
end
