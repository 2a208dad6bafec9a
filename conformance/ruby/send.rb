def main(req, res)
  res.send("héllo wörld ✓ #{req.payload}", 201)
end
