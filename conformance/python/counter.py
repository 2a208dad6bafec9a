count = 0


def main(req, res):
    global count
    count += 1
    res.json({"count": count})
