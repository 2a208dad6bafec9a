return function(req, res)
  os.exit(3)
end
