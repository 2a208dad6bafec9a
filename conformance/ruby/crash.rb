def main(req, res)
  exit!(3)
end
