-- File-level state lives as long as the adapter process: the file is loaded once.
local count = 0

return function(req, res)
  count = count + 1
  res:json({ count = count })
end
