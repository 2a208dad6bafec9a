# Loads fine, but the entry function has the wrong name: the adapter answers 404.
def handler(req, res)
  res.send('never called')
end
