return function(req, res)
  local p = req.payload
  print('noisy-stdout ' .. p)
  io.stderr:write('noisy-stderr ' .. p .. '\n')
  -- The child inherits the adapter's stdio; the payload goes in as $1, quoted for sh (os.execute takes a
  -- command line), not spliced into the script.
  local quoted = "'" .. p:gsub("'", [['\'']]) .. "'"
  assert(os.execute([[sh -c 'echo noisy-child "$1"; echo noisy-child-err "$1" >&2' sh ]] .. quoted))
  io.stdout:write('noisy-fd1 ' .. p .. '\n')
  io.stdout:flush()
  res:send('quiet ' .. p)
end
