"""How much `stepwise gate` adds to a forwarded call: the same tool call made directly to an
upstream MCP server and through the gate, in the same run, by the official Python MCP SDK.

Usage: python gate_bench.py path/to/stepwise [calls per round] [rounds] [--otlp]
(run by scripts/gate-bench, which makes the venv). With --otlp the gate exports a span per call
and per decision to a collector in this process (tests/mcp/otlp_collector.py): the cost of
tracing on.

Both sessions are open at once; each round makes CALLS pairs of `echo` calls, one directly and
one through the gate, alternating which goes first, so that a shared, noisy machine slows both
alike. Through the gate every call is decided, forwarded, and records a promise (committed to the
SQLite store, synced, before the answer) and a decision. Prints the median and p90 of each, the
difference of the medians, and the median of the pairs' differences, as JSON.
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

OTLP = "--otlp" in sys.argv
ARGS = [a for a in sys.argv if a != "--otlp"]
BIN = ARGS[1]
CALLS = int(ARGS[2]) if len(ARGS) > 2 else 200
ROUNDS = int(ARGS[3]) if len(ARGS) > 3 else 5
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


async def timed(session, i):
    t = time.perf_counter()
    r = await session.call_tool("echo", {"text": f"call {i}"})
    elapsed = time.perf_counter() - t
    assert not r.is_error, r
    return elapsed


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
        env, spans, stop = dict(os.environ), [], lambda: None
        if OTLP:
            sys.path.insert(0, HERE)
            import otlp_collector
            env["OTEL_EXPORTER_OTLP_ENDPOINT"], spans, stop = otlp_collector.start()
        gated = StdioServerParameters(
            command=BIN, args=["--data", data, "gate", "--principal", "agent:bench", "--", *upstream],
            env=env)
        async with stdio_client(direct) as (r1, w1), ClientSession(r1, w1) as d, \
                stdio_client(gated) as (r2, w2), ClientSession(r2, w2) as g:
            await d.initialize()
            await g.initialize()
            for i in range(20):  # warm-up
                await timed(d, i)
                await timed(g, i)
            direct_t, gate_t, pairs, rounds = [], [], [], []
            for k in range(ROUNDS):
                a, b = [], []
                for i in range(CALLS):
                    if (i + k) % 2 == 0:
                        a.append(await timed(d, i))
                        b.append(await timed(g, i))
                    else:
                        b.append(await timed(g, i))
                        a.append(await timed(d, i))
                direct_t += a
                gate_t += b
                pairs += [y - x for x, y in zip(a, b)]
                rounds.append(statistics.median(b) - statistics.median(a))
        time.sleep(1 if OTLP else 0)
        stop()
        ms = lambda s: round(s * 1000, 3)
        print(json.dumps({
            "calls": CALLS * ROUNDS,
            "tracing": OTLP,
            "spans_received": len(spans),
            "direct_p50_ms": ms(statistics.median(direct_t)),
            "direct_p90_ms": ms(quantile(direct_t, 0.9)),
            "gate_p50_ms": ms(statistics.median(gate_t)),
            "gate_p90_ms": ms(quantile(gate_t, 0.9)),
            "overhead_p50_ms": ms(statistics.median(gate_t) - statistics.median(direct_t)),
            "overhead_pairs_p50_ms": ms(statistics.median(pairs)),
            "overhead_per_round_ms": [ms(o) for o in rounds],
        }, indent=2))


asyncio.run(main())
