def main(req, res)
  p = req.payload
  puts "noisy-stdout #{p}"
  warn "noisy-stderr #{p}"
  # The child inherits the adapter's stdio; the payload goes in as $1, not spliced into the script.
  system('sh', '-c', 'echo noisy-child "$1"; echo noisy-child-err "$1" >&2', 'sh', p, exception: true)
  IO.for_fd(1, autoclose: false).syswrite("noisy-fd1 #{p}\n")
  res.send("quiet #{p}")
end
