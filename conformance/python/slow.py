import time


def main(req, res):
    time.sleep(float(req.payload or "30"))
    res.send("woke")
