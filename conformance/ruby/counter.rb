# Top-level state lives as long as the adapter process: the file is loaded once.
COUNTER = { count: 0 }

def main(req, res)
  COUNTER[:count] += 1
  res.json({ count: COUNTER[:count] })
end
