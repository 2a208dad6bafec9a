import os
import subprocess
import sys


def main(req, res):
    p = req.payload
    print("noisy-stdout " + p)
    print("noisy-stderr " + p, file=sys.stderr)
    # The child inherits the adapter's stdio; the payload goes in as $1, not spliced into the script.
    subprocess.run(["sh", "-c", 'echo noisy-child "$1"; echo noisy-child-err "$1" >&2', "sh", p], check=True)
    os.write(1, ("noisy-fd1 " + p + "\n").encode())
    res.send("quiet " + p)
