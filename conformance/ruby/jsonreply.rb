def main(req, res)
  res.json({ nested: { list: [1, 2.5, 'three', true, nil], unicode: '✓' }, payload: req.payload }, 202)
end
