return function(req, res)
  -- res.null stands for JSON null: a nil cannot be stored in a table.
  res:json({ nested = { list = { 1, 2.5, 'three', true, res.null }, unicode = '✓' }, payload = req.payload }, 202)
end
