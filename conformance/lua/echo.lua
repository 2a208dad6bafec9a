return function(req, res)
  res:json({ env = req.env, payload = req.payload, headers = req.headers })
end
