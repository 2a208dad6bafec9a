def main(req, res):
    return {"this is": "not a reply"}
