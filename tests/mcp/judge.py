"""A `check` command for the gate's tests: `python judge.py PROMISE VERDICT_FILE` writes PROMISE
to VERDICT_FILE.log and exits with the number in VERDICT_FILE (0 kept, 1 broken, anything else:
neither)."""

import sys

promise, verdict = sys.argv[1], sys.argv[2]
with open(verdict + ".log", "a") as f:
    f.write(promise + "\n")
sys.exit(int(open(verdict).read().strip()))
