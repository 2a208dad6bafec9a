#!/usr/bin/env python3
"""No block repeats across the files under runtimes/: every run of WINDOW (3) consecutive significant lines
(stripped; blank lines, a lone `#`, shebangs, `set -eu` and closing `fi`/`done`/`esac`/`}`/`;;` do not count)
may appear in one file only. A version is data (runtimes/catalogue.json), a language's recipe is written once
(runtimes/<lang>/), what every image shares once (runtimes/Dockerfile, runtimes/image.sh).

    tests/runtimes/repeats.py [--window N]     exit 1, with each repeated block and its files, when one repeats
"""
import os
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtimes")
window = 3
if len(sys.argv) == 3 and sys.argv[1] == "--window":
    window = int(sys.argv[2])
TRIVIAL = {"", "#", "fi", "done", "esac", "}", ";;", "set -eu", "set -euo pipefail", "else", "then", "do", ")"}


def significant(path):
    try:
        text = open(path, encoding="utf-8").read()
    except (UnicodeDecodeError, OSError):
        return []
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s in TRIVIAL or s.startswith("#!"):
            continue
        out.append((n, s))
    return out


seen = {}
for dirpath, _, files in os.walk(root):
    for f in sorted(files):
        path = os.path.join(dirpath, f)
        rel = os.path.relpath(path, os.path.join(root, ".."))
        lines = significant(path)
        for i in range(len(lines) - window + 1):
            block = tuple(s for _, s in lines[i : i + window])
            seen.setdefault(block, {}).setdefault(rel, lines[i][0])

repeats = [(b, fs) for b, fs in seen.items() if len(fs) > 1]
for block, files in sorted(repeats, key=lambda r: sorted(r[1])):
    print("repeated in " + ", ".join(f"{f}:{n}" for f, n in sorted(files.items())))
    for s in block:
        print("    " + s)
files = len({f for _, fs in seen.items() for f in fs})
if repeats:
    print(f"{len(repeats)} blocks of {window} lines repeat across the files under runtimes/")
    sys.exit(1)
print(f"no block of {window} lines repeats across the {files} files under runtimes/")
