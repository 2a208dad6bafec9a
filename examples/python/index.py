def main(req, res):
    # Anything printed goes to the shim's log, tagged with this request.
    print("hello function called with", len(req.payload), "characters of payload")
    res.json({"message": "Hello from Python!", "payload": req.payload, "env1": req.env.get("ENV1")})
