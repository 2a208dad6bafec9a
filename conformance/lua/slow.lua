return function(req, res)
  -- Lua has no sleep of its own.
  os.execute('sleep ' .. (tonumber(req.payload) or 30))
  res:send('woke')
end
