def inner_helper():
    raise RuntimeError("boom from user code")


def main(req, res):
    inner_helper()
    res.send("unreachable")
