# The v5 image test's python function (tests/images/v5.sh): proves the build step ran (built.txt, written by
# the install command), that packages it installed into .python_packages import, and the v5 context API.
import os

import v5dep  # .python_packages/v5dep, made by the install command


def main(context):
    context.log("python function log", {"n": 1})
    context.error("python function error line")
    print("python native print")
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "built.txt")) as f:
        built = f.read().strip()
    return context.res.json(
        {
            "runtime": "python",
            "method": context.req.method,
            "path": context.req.path,
            "query": context.req.query,
            "body": context.req.body,
            "built": built,
            "dependency": v5dep.VALUE,
        },
        201,
        {"x-v5-test": "yes"},
    )
