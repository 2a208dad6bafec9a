def inner_helper
  raise 'boom from user code'
end

def main(req, res)
  inner_helper
  res.send('unreachable')
end
