"""What the MCP and dashboard checks share: the binary under test, the check that counts and stops
at the first failure, API keys made with the CLI, and the CLI's --json answers to compare with."""

import json
import subprocess
import sys

BIN = sys.argv[1] if len(sys.argv) > 1 else sys.exit("usage: python CHECK.py path/to/stepwise")
checks = 0


def check(cond, what, detail=None):
    """Counts a passed check; prints what failed and exits non-zero on a failed one."""
    global checks
    if not cond:
        print(f"FAIL: {what}" + (f"\n  {detail}" if detail is not None else ""), file=sys.stderr)
        sys.exit(1)
    checks += 1
    print(f"ok: {what}", flush=True)


def passed():
    return checks


def create_key(data, role, principal=None):
    """A new API key's text, made with `stepwise key create`."""
    args = [BIN, "--data", data, "--json", "key", "create", "--role", role]
    if principal:
        args += ["--principal", principal]
    run = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(run.stdout)["key"]


def cli(data, *args):
    """The CLI's --json answer (exit 0 or 1: 1 is a negative answer)."""
    run = subprocess.run([BIN, "--data", data, "--json", *args], capture_output=True, text=True)
    if run.returncode not in (0, 1):
        sys.exit(f"stepwise {' '.join(args)} failed: {run.stderr}")
    return json.loads(run.stdout)


def log_size(data):
    return cli(data, "log", "checkpoint")["size"]


def text(result):
    """A tool result's text content."""
    return "\n".join(c.text for c in result.content if c.type == "text")
