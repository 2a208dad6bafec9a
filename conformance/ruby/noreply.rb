def main(req, res)
  { 'this is' => 'not a reply' }
end
