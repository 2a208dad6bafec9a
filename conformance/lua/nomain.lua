-- Loads fine, but returns no function (and defines no main): the adapter answers 404.
function handler(req, res)
  res:send('never called')
end
