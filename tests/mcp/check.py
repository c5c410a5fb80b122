"""`stepwise mcp` against the official Python MCP SDK as its client, over stdio.

Usage: python check.py path/to/stepwise   (run by scripts/mcp-check, which makes the venv)

A newcomer agent asks to act, is told what it may and may not do and whether to retry, records a
promise, cannot judge it itself, and its promisee judges it from a second session. Every answer
is compared with what the CLI's --json prints for the same question. Exits non-zero on the first
failed check.
"""

import asyncio
import datetime
import json
import subprocess
import tempfile

import common
from common import BIN, check, cli, log_size, text
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

TOOLS = {"decide", "explain", "trust", "ladder", "promise", "outcome", "promises_open"}






def session(data, principal):
    params = StdioServerParameters(command=BIN, args=["--data", data, "mcp", "--principal", principal])
    return stdio_client(params)


async def agent(data, due):
    async with session(data, "agent:bot") as (read, write), ClientSession(read, write) as s:
        init = await s.initialize()
        check(init.server_info.name == "stepwise", "the server names itself", init.server_info)

        tools = (await s.list_tools()).tools
        names = {t.name for t in tools}
        check(names == TOOLS, "every tool is listed", names)
        for t in tools:
            schema = t.input_schema
            check(
                schema.get("type") == "object" and isinstance(schema.get("properties", {}), dict),
                f"{t.name} has an object schema",
                schema,
            )
            check(len(t.description or "") > 80, f"{t.name} has a description to act on")
        decide_schema = next(t for t in tools if t.name == "decide").input_schema
        check(
            set(decide_schema.get("required", [])) == {"subject", "capability", "stake"},
            "decide requires subject, capability and stake",
            decide_schema,
        )

        r = await s.call_tool("decide", {"subject": "agent:bot", "capability": "propose", "stake": 5})
        d = r.structured_content
        check(not r.is_error and d["allowed"] is True, "a newcomer may propose at stake 5", text(r))
        check(d["retryable"] is None, "an allowed answer has no retry advice", d)
        cli_keys = set(cli(data, "decide", "agent:bot", "propose", "--stake", "5").keys())
        check(set(d.keys()) == cli_keys, "decide answers with the CLI's decision JSON", (d.keys(), cli_keys))
        check(json.loads(r.content[-1].text) == d, "the text is the same JSON")

        r = await s.call_tool("decide", {"subject": "agent:bot", "capability": "act:high", "stake": 20000})
        d = r.structured_content
        check(not r.is_error, "a denial is a normal result, not a tool error", text(r))
        check(d["allowed"] is False and d["retryable"] is False, "act:high at 20000: denied, never", d)
        check("DENIED" in text(r) and "retry: never" in text(r), "the summary says denied and never", text(r))

        r = await s.call_tool("decide", {"subject": "agent:bot", "capability": "act:low", "stake": 50})
        d = r.structured_content
        check(d["allowed"] is False and d["retryable"] is True, "act:low at 50: denied, not yet", d)
        check(d["next_step"] is not None and d["next_step"]["requirements"], "with the next step", d)
        check(d["reasons"] and "next step" in text(r), "the summary gives reasons and the next step", text(r))

        r = await s.call_tool("ladder", {})
        check(json.loads(text(r)) == cli(data, "ladder"), "ladder is the CLI's ladder JSON")
        r = await s.call_tool("explain", {"subject": "agent:bot"})
        check(
            set(r.structured_content) == set(cli(data, "explain", "agent:bot")),
            "explain answers with the CLI's JSON",
            r.structured_content,
        )
        r = await s.call_tool("trust", {"subject": "agent:bot", "scope": "deploy:staging"})
        check(
            set(r.structured_content) == set(cli(data, "trust", "agent:bot", "--scope", "deploy:staging")),
            "trust answers with the CLI's JSON",
            r.structured_content,
        )

        size = log_size(data)
        promise = {"id": "p-1", "promisee": "user:ann", "scope": "deploy:staging", "stake": 5, "due": due}
        r = await s.call_tool("promise", promise)
        check(not r.is_error and r.structured_content["index"] == size, "the promise is recorded", text(r))
        event = cli(data, "log", "get", str(size), "--open")["opened"]
        check(event["promisor"] == "agent:bot", "with the calling principal as promisor", event)
        check(log_size(data) == size + 1, "the log grew by one")

        size = log_size(data)
        r = await s.call_tool("outcome", {"promise": "p-1", "result": "kept"})
        check(r.is_error, "the promisor may not judge its own promise", text(r))
        check("promisee" in text(r), "and is told only the promisee may", text(r))
        check(log_size(data) == size, "nothing was recorded")

        for tool, args, field in [
            ("decide", {"subject": "agent:bot", "capability": "propose", "stake": "abc"}, "stake"),
            ("promise", {**promise, "id": "p-2", "stake": "abc"}, "stake"),
            ("promise", {**promise, "id": "p-2", "due": "tomorrow"}, "due"),
            ("outcome", {"promise": "p-1", "result": "done"}, "result"),
            ("decide", {"subject": "agent:bot", "capability": "propose", "stake": -1}, "stake"),
            ("trust", {"subject": "agent:bot", "colour": "red"}, "colour"),
            ("explain", {}, "subject"),
        ]:
            r = await s.call_tool(tool, args)
            check(r.is_error and field in text(r), f"{tool} with a bad {field}: a tool error naming it", text(r))
        check(log_size(data) == size, "no bad call recorded anything")

        r = await s.call_tool("promises_open", {"promisee": "user:ann"})
        open_ = r.structured_content["promises"]
        check([p["id"] for p in open_] == ["p-1"], "p-1 awaits user:ann's judgement", open_)

        policy = (await s.read_resource("stepwise://policy")).contents[0].text
        with open(f"{data}/stepwise.toml") as f:
            check(policy == f.read(), "the policy resource is the policy file")
        note = (await s.read_resource("stepwise://checkpoint")).contents[0].text
        check(note == cli(data, "log", "checkpoint")["note"], "the checkpoint resource is the signed note")


async def promisee(data):
    async with session(data, "user:ann") as (read, write), ClientSession(read, write) as s:
        await s.initialize()
        size = log_size(data)
        r = await s.call_tool("outcome", {"promise": "p-1", "result": "kept"})
        check(not r.is_error and r.structured_content["index"] == size, "the promisee records it kept", text(r))
        r = await s.call_tool("promises_open", {})
        check(r.structured_content["promises"] == [], "nothing awaits judgement any more", text(r))


def main():
    with tempfile.TemporaryDirectory() as work:
        data = f"{work}/data"
        subprocess.run([BIN, "--data", data, "init"], check=True, capture_output=True)
        due = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        asyncio.run(agent(data, due))
        asyncio.run(promisee(data))
    print(f"stepwise mcp: {common.passed()} checks passed")


main()
