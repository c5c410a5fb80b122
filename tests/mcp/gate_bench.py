"""How much `stepwise gate` adds to a forwarded call: the same tool call made directly to an
upstream MCP server and through the gate, in the same run, by the official Python MCP SDK.

Usage: python gate_bench.py path/to/stepwise [calls per round] [rounds]
(run by scripts/gate-bench, which makes the venv)

Both sessions are open at once; each round makes CALLS calls of `echo` directly, then CALLS
through the gate (alternating which goes first), timing each call. Through the gate every call is
decided, forwarded, and records a promise and a decision (each committed to the SQLite store
before the answer). Prints the median and p90 of each and the median overhead, as JSON.
"""

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

BIN = sys.argv[1]
CALLS = int(sys.argv[2]) if len(sys.argv) > 2 else 200
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
HERE = os.path.dirname(os.path.abspath(__file__))

POLICY = """
[ladder]
limit_exposure = false

[[ladder.levels]]
name = "newcomer"
capabilities = ["propose"]
max_stake = 10

[gate.tools."echo"]
capability = "propose"
stake = 1
promisee = "user:ann"
due = "1h"
"""


async def timed(session, n, out):
    for i in range(n):
        t = time.perf_counter()
        r = await session.call_tool("echo", {"text": f"call {i}"})
        out.append(time.perf_counter() - t)
        assert not r.is_error, r


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def main():
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        subprocess.run([BIN, "--data", data, "init"], check=True, capture_output=True)
        with open(os.path.join(data, "stepwise.toml"), "w") as f:
            f.write(POLICY)
        upstream = [sys.executable, os.path.join(HERE, "upstream.py"), os.devnull]
        direct = StdioServerParameters(command=upstream[0], args=upstream[1:])
        gated = StdioServerParameters(
            command=BIN, args=["--data", data, "gate", "--principal", "agent:bench", "--", *upstream])
        async with stdio_client(direct) as (r1, w1), ClientSession(r1, w1) as d, \
                stdio_client(gated) as (r2, w2), ClientSession(r2, w2) as g:
            await d.initialize()
            await g.initialize()
            await timed(d, 20, [])  # warm-up
            await timed(g, 20, [])
            direct_t, gate_t, overheads = [], [], []
            for k in range(ROUNDS):
                a, b = [], []
                if k % 2 == 0:
                    await timed(d, CALLS, a)
                    await timed(g, CALLS, b)
                else:
                    await timed(g, CALLS, b)
                    await timed(d, CALLS, a)
                direct_t += a
                gate_t += b
                overheads.append(statistics.median(b) - statistics.median(a))
        ms = lambda s: round(s * 1000, 3)
        print(json.dumps({
            "calls": CALLS * ROUNDS,
            "direct_p50_ms": ms(statistics.median(direct_t)),
            "direct_p90_ms": ms(quantile(direct_t, 0.9)),
            "gate_p50_ms": ms(statistics.median(gate_t)),
            "gate_p90_ms": ms(quantile(gate_t, 0.9)),
            "overhead_p50_ms": ms(statistics.median(gate_t) - statistics.median(direct_t)),
            "overhead_per_round_ms": [ms(o) for o in overheads],
        }, indent=2))


asyncio.run(main())
