"""`stepwise gate` between the official Python MCP SDK (the client) and an upstream MCP server
written with the same SDK (tests/mcp/upstream.py, which writes down every call it receives).

Usage: python gate_check.py path/to/stepwise   (run by scripts/mcp-check, which makes the venv)

The policy is the example of docs/AGENTS.md and the session is that document's transcript, run
as written: each `→ tool {arguments}` line is called, and the answer must match the `←` lines
that follow (`…` stands for any text). Between the transcript's calls, and after it, more checks:
a denied call never reaches the upstream, bad stake arguments and an upstream that exits
mid-call record nothing, the promise of an allowed call is in the log, and every decision in the
decision log replays exactly with `stepwise decide --log-size N --at T`. Exits non-zero on the
first failed check.
"""

import asyncio
import json
import os
import re
import sys
import tempfile

import common
from common import BIN, check, cli, log_size
from mcp import ClientSession, StdioServerParameters
from mcp import MCPError
from mcp.client.stdio import stdio_client

HERE = os.path.dirname(os.path.abspath(__file__))
# The gates here follow the log every 20 ms; a test waits ten times that for evidence recorded
# by another process to reach the gate's state.
GATE = ["gate", "--follow-ms", "20"]
FOLLOW = 0.2
AGENTS = os.path.join(HERE, "..", "..", "docs", "AGENTS.md")





def decisions(data):
    return cli(data, "decisions", "--limit", "1000")["decisions"]


def block_after(marker, lang):
    """The fenced block of `lang` that follows the line holding `marker` in docs/AGENTS.md."""
    text = open(AGENTS, encoding="utf-8").read()
    at = text.index(marker)
    m = re.compile(r"```" + lang + r"\n(.*?)```", re.S).search(text, at)
    return m.group(1)


def answer_text(result):
    words = "\n".join(c.text for c in result.content if c.type == "text")
    return ("error: " if result.is_error else "") + words


def matches(expected, actual):
    """`expected` lines against `actual`: `…` within a line is any text; a line of `…` alone is
    any number of lines."""
    parts = []
    for line in expected:
        if line.strip() == "…":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(p) for p in line.split("…")) + r"\n")
    return re.fullmatch("".join(parts), actual.rstrip("\n") + "\n") is not None


def calls_seen(path):
    return open(path).read().split() if os.path.exists(path) else []


def judge_all(data, promisee, result):
    open_ = cli(data, "promises", "--open", "--promisee", promisee)["promises"]
    check(open_, f"{promisee} has promises to judge")
    for p in open_:
        cli(data, "record", "outcome", "--promise", p["id"], "--result", result, "--author", promisee)
    return len(open_)


async def transcript(s, data, calls):
    """Runs the document's transcript; returns how many calls it made."""
    lines = [l for l in block_after("<!-- gate-transcript", "text").splitlines() if l.strip()]
    made = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("# "):
            m = re.fullmatch(r"# (\S+) judges every open promise: (kept|broken)", line)
            check(m is not None, f"the transcript's step is one this test knows: {line!r}")
            judge_all(data, m.group(1), m.group(2))
            # The gate reads what others append every --follow-ms (20 here).
            await asyncio.sleep(FOLLOW)
            continue
        m = re.fullmatch(r"→ (\S+) (\{.*\})", line)
        check(m is not None, f"a transcript line is a call: {line!r}")
        tool, args = m.group(1), json.loads(m.group(2))
        expected = []
        while i < len(lines) and (lines[i].startswith("← ") or lines[i].startswith("  ")):
            expected.append(lines[i][2:])
            i += 1
        before_calls, before_size = len(calls_seen(calls)), log_size(data)
        result = await s.call_tool(tool, args)
        made += 1
        actual = answer_text(result)
        check(matches(expected, actual), f"transcript: {tool} {args} answers as written",
              "expected:\n" + "\n".join(expected) + "\nactual:\n" + actual)
        reached = len(calls_seen(calls)) > before_calls
        meta = (result.meta or {}).get("stepwise", {})
        if "was not made" in actual:
            check(not reached, f"{tool}: a call not made never reaches the upstream")
            check(log_size(data) == before_size, f"{tool}: a call not made records nothing")
        elif result.is_error:
            check(reached and log_size(data) == before_size,
                  f"{tool}: a tool error of the upstream passes through and promises nothing")
        else:
            check(reached, f"{tool}: an allowed call reaches the upstream")
            promise = meta.get("promise")
            check(promise is not None, f"{tool}: the promise's id is in the result's _meta", meta)
            entry = cli(data, "log", "get", str(meta["promise_index"]), "--open")["opened"]
            check(entry["id"] == promise and entry["promisor"] == "agent:bot"
                  and entry["promisee"] == meta["promisee"],
                  f"{tool}: the log holds the promise, by the agent to its promisee", entry)
    return made


async def more(s, data, calls):
    """What the transcript does not show."""
    size, kept = log_size(data), len(decisions(data))
    before = len(calls_seen(calls))
    for args, what in (({"service": "web"}, "missing"), ({"service": "web", "amount": "abc"}, "a string"),
                       ({"service": "web", "amount": -5}, "negative")):
        r = await s.call_tool("deploy", args)
        t = answer_text(r)
        check(r.is_error and "`amount`" in t, f"a stake argument {what} is a tool error naming it", t)
    check(len(calls_seen(calls)) == before, "calls with a bad stake never reach the upstream")
    check(log_size(data) == size and len(decisions(data)) == kept,
          "calls with a bad stake record nothing, in the log or the decision log")

    before = len(calls_seen(calls))
    try:
        r = await s.call_tool("echo", {"txt": "a misspelt argument"})
        t, failed = answer_text(r), r.is_error
    except MCPError as e:
        t, failed = str(e), True
    check(failed and "text" in t, "bad arguments for the upstream tool are its error, passed on", t)
    check(log_size(data) == size, "a call the upstream refused records no promise")
    last = decisions(data)[-1]
    check(last["tool"] == "echo" and last["promise"] is None and last["result"] in ("tool_error", "upstream_failed"),
          "the decision log says what became of it", last)

    r = await s.call_tool("crash", {})
    t = answer_text(r)
    check(r.is_error and "failed during the call" in t, "an upstream that exits mid-call is a tool error", t)
    check(log_size(data) == size, "a call the upstream did not finish records no promise")
    last = decisions(data)[-1]
    check(last["tool"] == "crash" and last["result"] == "upstream_failed" and last["promise"] is None,
          "the decision log says the upstream failed", last)
    r = await s.call_tool("echo", {"text": "still here"})
    check(not r.is_error and answer_text(r) == "still here",
          "the gate stays up and starts the upstream again", answer_text(r))
    check(calls_seen(calls)[-2:] == ["crash", "echo"], "the restarted upstream got the call")


async def concurrent(tmp):
    """Calls not yet answered count against the limit: two slow calls of 6 at a limit of 10
    cannot both run; once the first is answered its promise counts instead."""
    data = os.path.join(tmp, "concurrent")
    calls = os.path.join(tmp, "concurrent-calls")
    cli(data, "init")
    with open(os.path.join(data, "stepwise.toml"), "w") as f:
        f.write(block_after("<!-- gate-policy", "toml") + """
[gate.tools."slow"]
capability = "propose"
stake_arg = "amount"
promisee = "user:ann"
due = "1h"
""")
    upstream = [sys.executable, os.path.join(HERE, "upstream.py"), calls]
    params = StdioServerParameters(
        command=BIN, args=["--data", data, *GATE, "--principal", "agent:eager", "--", *upstream])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
        await s.initialize()
        first = asyncio.create_task(s.call_tool("slow", {"seconds": 1.5, "amount": 6}))
        while "slow" not in calls_seen(calls):
            await asyncio.sleep(0.05)
        second = await s.call_tool("slow", {"seconds": 0, "amount": 6})
        t = answer_text(second)
        check(second.is_error and "calls_in_flight" in t,
              "a call that would put more at stake at once than the limit waits its turn", t)
        check(calls_seen(calls) == ["slow"], "the crowded call never reached the upstream")
        first = await first
        check(not first.is_error, "the call in flight completes", answer_text(first))
        third = await s.call_tool("slow", {"seconds": 0, "amount": 6})
        t = answer_text(third)
        check(third.is_error and "6 already at stake" in t,
              "once answered, its promise counts against the limit", t)
        fourth = await s.call_tool("slow", {"seconds": 0, "amount": 4})
        check(not fourth.is_error, "what fits under the limit runs", answer_text(fourth))
    replays(data, "agent:eager")

    # A call the client gives up on stops counting at once.
    params = StdioServerParameters(
        command=BIN, args=["--data", data, *GATE, "--principal", "agent:patient", "--", *upstream])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
        await s.initialize()
        seen = len(calls_seen(calls))
        try:
            await s.call_tool("slow", {"seconds": 3, "amount": 6}, read_timeout_seconds=0.5)
            gave_up = False
        except MCPError:
            gave_up = True
        check(gave_up and len(calls_seen(calls)) == seen + 1, "the client gives up on a slow call")
        r = await s.call_tool("slow", {"seconds": 0, "amount": 6})
        check(not r.is_error, "a call given up on holds no stake", answer_text(r))
        last = decisions(data)[-1]
        check(last["principal"] == "agent:patient" and last["result"] == "forwarded",
              "only the call that was answered is in the decision log", last)


def replays(data, principal="agent:bot"):
    """Every decision with a capability replays exactly at its log size and instant."""
    all_ = decisions(data)
    for d in all_:
        if d["capability"] is None:
            check(d["reasons"] == ["tool_not_in_policy"], "a tool not in the policy is logged as such", d)
            continue
        again = cli(data, "decide", d["principal"], d["capability"], "--stake", str(d["stake"]),
                    "--log-size", str(d["log_size"]), "--at", d["at"])
        # A call refused for the calls in flight was allowed by the ladder, whose codes follow.
        crowded = d["reasons"][:1] == ["calls_in_flight"]
        check(again["allowed"] == (d["allowed"] or crowded)
              and [r["code"] for r in again["reasons"]] == d["reasons"][crowded:]
              and again["evidence"] == d["evidence"],
              f"decision {d['seq']} ({d['tool']}) replays exactly", (d, again))
    mine = cli(data, "decisions", "--principal", principal, "--limit", "2")
    check(len(mine["decisions"]) == 2 and mine["next_cursor"] == mine["decisions"][1]["seq"],
          "the decision log pages", mine)
    rest = cli(data, "decisions", "--principal", principal, "--cursor", str(mine["next_cursor"]),
               "--limit", "1000")
    check(len(rest["decisions"]) == len(all_) - 2 and rest["next_cursor"] is None,
          "the next page holds the rest", rest)
    nobody = cli(data, "decisions", "--principal", "agent:nobody")
    check(nobody["decisions"] == [], "another principal has no decisions")


async def main():
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        calls = os.path.join(tmp, "calls")
        cli(data, "init")
        with open(os.path.join(data, "stepwise.toml"), "w") as f:
            f.write(block_after("<!-- gate-policy", "toml"))
        upstream = [sys.executable, os.path.join(HERE, "upstream.py"), calls]
        params = StdioServerParameters(command=BIN, args=["--data", data, *GATE, "--", *upstream])
        async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
            init = await s.initialize()
            check(init.server_info.name == "stepwise-gate", "the gate names itself", init.server_info)
            tools = {t.name: t for t in (await s.list_tools()).tools}
            check(set(tools) == {"echo", "deploy", "slow", "fail", "crash", "secret"},
                  "the gate offers the upstream's tools", set(tools))
            check("stepwise gate" in tools["deploy"].description and "`amount`" in tools["deploy"].description,
                  "a gated tool's description says how it is gated", tools["deploy"].description)
            check("not in the policy" in tools["secret"].description,
                  "a tool not in the policy is marked so", tools["secret"].description)
            made = await transcript(s, data, calls)
            check(len(decisions(data)) == made, "every call of the transcript is in the decision log")
            await more(s, data, calls)
        check("secret" not in calls_seen(calls), "the tool the policy does not name was never called")
        replays(data)
        await concurrent(tmp)
    print(f"gate check: {common.passed()} checks passed")


asyncio.run(main())
