#!/usr/bin/env ruby
# frozen_string_literal: true
# runtime-shim adapter for Ruby 2.7+: serves a user's `main(req, res)` over adapter protocol 1.
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

HEADER_MAX = 256
SELF = File.expand_path(__FILE__)

def fatal(message)
  STDERR.puts "ruby adapter: #{message}"
  exit!(2)
end

def write_frame(head, body = '')
  PROTO_OUT.write("#{head} #{body.bytesize}\n".b, body.b) # IO#write writes everything
end

def read_frame
  line = PROTO_IN.gets("\n", HEADER_MAX + 1)
  exit(0) if line.nil? # EOF between frames: the shim is done with us
  fatal("a request header is longer than #{HEADER_MAX} bytes") if line.bytesize > HEADER_MAX
  fatal('input ended inside a request header') unless line.end_with?("\n")
  tokens = line.chomp.split(' ', -1)
  unless tokens[0] == 'REQ' && tokens.size >= 3 && tokens[1] =~ /\A[A-Za-z0-9._-]{1,64}\z/ && tokens[-1] =~ /\A(0|[1-9][0-9]*)\z/
    fatal("bad request header: #{line.inspect}")
  end
  body = PROTO_IN.read(tokens[-1].to_i) || ''
  fatal('input ended inside a request body') if body.bytesize != tokens[-1].to_i
  [tokens[1], body]
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

code_path, entry = ENV['SHIM_CODE_PATH'], ENV['SHIM_ENTRYPOINT']
if code_path && entry && File.file?(File.expand_path(entry, code_path))
  begin
    load_function(code_path, entry)
  rescue Exception # rubocop:disable Lint/RescueException
    nil # reported, with its backtrace, to the first request that needs this file
  end
end
write_frame('READY 1 json', "ruby #{RUBY_VERSION}")
loop do
  rid, body = read_frame
  head, reply = handle(rid, body)
  write_frame(head, reply)
end
