# An async main: the adapter runs it on its event loop.
async def main(req, res):
    res.json({"nested": {"list": [1, 2.5, "three", True, None], "unicode": "✓"}, "payload": req.payload}, 202)
