def main(req, res)
  sleep(Float(req.payload.empty? ? '30' : req.payload))
  res.send('woke')
end
