local function inner_helper()
  error('boom from user code')
end

return function(req, res)
  inner_helper()
  res:send('unreachable')
end
