"""The agent loop without a babysitter: `stepwise gate`'s shadow mode, budgets, pinned tools and
check commands, with the official Python MCP SDK as the client and tests/mcp/upstream.py (whose
`deploy` changes with UPSTREAM_VARIANT=2) as the upstream.

Usage: python gate_loop.py path/to/stepwise   (run by scripts/mcp-check). Exits non-zero on the
first failed check.
"""

import asyncio
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import common
from common import BIN, check, cli, log_size
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
GATE = ["gate", "--follow-ms", "20"]

# A small ladder: three kept promises make a newcomer a deployer.
LADDER = """
[[ladder.levels]]
name = "newcomer"
capabilities = ["read", "propose"]
max_stake = 10

[[ladder.levels]]
name = "deployer"
capabilities = ["deploy"]
max_stake = 100
kept = 3
kept_min_stake = 1
min_expected = 0.6
max_uncertainty = 0.5
"""

POLICY = LADDER + """
[gate]
principal = "agent:bot"

[gate.tools."echo"]
capability = "propose"
stake = 1
promisee = "ci:checks"
due = "1s"
grace = "1h"
check = [{python}, {judge}, "{{promise}}", {verdict}]
check_retry = "1s"
budget = {{ calls = 4, per = "1h" }}

[gate.tools."fail"]
capability = "propose"
stake = 2
promisee = "ci:checks"
due = "1h"
check = [{python}, {judge}, "{{promise}}", {verdict}]

[gate.tools."deploy"]
capability = "deploy"
stake_arg = "amount"
promisee = "user:ann"
due = "24h"
approvers = ["user:ann", "user:newbie"]
approval_timeout = "3s"

[gate.tools."slow"]
capability = "deploy"
stake_arg = "amount"
promisee = "user:ann"
due = "24h"
approvers = ["user:newbie"]
"""


def text(result):
    return "\n".join(c.text for c in result.content if c.type == "text")


def calls_seen(path):
    return open(path).read().split() if os.path.exists(path) else []


def run(data, *args):
    """`stepwise --json ARGS`: exit code and answer (or stderr)."""
    p = subprocess.run([BIN, "--data", data, "--json", *args], capture_output=True, text=True)
    try:
        return p.returncode, json.loads(p.stdout)
    except json.JSONDecodeError:
        return p.returncode, p.stderr


def decisions(data, principal):
    return cli(data, "decisions", "--principal", principal, "--limit", "1000")["decisions"]


def entry(data, index):
    return cli(data, "log", "get", str(index), "--open")["opened"]


def outcome_of(data, promise):
    """The outcome recorded for `promise`, if any: the entry after the promise that names it."""
    for i in range(log_size(data) - 1, -1, -1):
        e = entry(data, i)
        if e.get("kind") == "outcome" and e.get("promise") == promise:
            return e
    return None


def session(data, calls, principal, *flags, variant=None, otlp=None):
    """A gate on tests/mcp/upstream.py for `principal`, as an MCP client's transport."""
    env = dict(os.environ)
    if variant:
        env["UPSTREAM_VARIANT"] = variant
    if otlp:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp
    upstream = [sys.executable, os.path.join(HERE, "upstream.py"), calls]
    params = StdioServerParameters(
        command=BIN, args=["--data", data, *GATE, "--principal", principal, *flags, "--", *upstream],
        env=env)
    return stdio_client(params)


async def shadow(data, calls):
    """Shadow mode forwards every call and keeps what it would have refused."""
    async with session(data, calls, "agent:shadow", "--shadow") as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        # (The gate records the policy it starts under before it answers.)
        size = log_size(data)
        before = len(calls_seen(calls))
        res = await s.call_tool("deploy", {"service": "web", "amount": 5})
        meta = (res.meta or {}).get("stepwise", {})
        check(not res.is_error and len(calls_seen(calls)) == before + 1,
              "shadow: a call the ladder refuses is forwarded all the same", text(res))
        check(meta.get("would_deny", [None])[0] == "capability_needs_level"
              and "was not made" in meta.get("words", ""),
              "shadow: the answer's _meta says what the gate would have done", meta)
        check(log_size(data) == size, "shadow: a call it would have refused promises nothing")
        res = await s.call_tool("secret", {})
        check(not res.is_error and "secret" in calls_seen(calls),
              "shadow: even a tool the policy does not name is forwarded", text(res))
        res = await s.call_tool("echo", {"text": "hi"})
        meta = (res.meta or {}).get("stepwise", {})
        check(not res.is_error and meta.get("promise"), "shadow: an allowed call records its promise as usual", meta)
    kept = decisions(data, "agent:shadow")
    check([d["result"] for d in kept] == ["would_deny", "would_deny", "forwarded"]
          and all(d["shadow"] for d in kept),
          "shadow: the decision log keeps would_deny with the reasons, marked shadow", kept)
    report = cli(data, "decisions", "--shadow-report", "--principal", "agent:shadow")
    check(report["calls"] == 3 and report["would_deny"] == 2 and report["shadow_calls"] == 3
          and report["refused_by_reason"] == {"capability_needs_level": 1, "tool_not_in_policy": 1}
          and report["by_tool"]["deploy"] == {"calls": 1, "refused": 1},
          "decisions --shadow-report counts what would have been refused, by reason and tool", report)
    later = cli(data, "decisions", "--shadow-report", "--since", "2999-01-01T00:00:00Z")
    check(later["calls"] == 0 and later["from"] is None, "a period without decisions reports none", later)


async def wait_for(what, probe, seconds=8.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        await asyncio.sleep(0.2)
    check(False, what, "timed out")


async def checks_and_budget(data, calls, verdict):
    """A check command judges promises as they fall due; a tool's budget runs out."""
    attempts = verdict + ".log"
    async with session(data, calls, "agent:bot") as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        promises = []
        for want, code in (("kept", "0"), ("broken", "1")):
            open(verdict, "w").write(code)
            res = await s.call_tool("echo", {"text": want})
            meta = res.meta["stepwise"]
            promises.append(meta["promise"])
            made = entry(data, meta["promise_index"])
            due = datetime.datetime.fromisoformat(made["due"].replace("Z", "+00:00"))
            at = datetime.datetime.fromisoformat(made["at"].replace("Z", "+00:00"))
            check(abs((due - at).total_seconds() - 3601) < 1,
                  "the promise's due in the log is the tool's due plus its grace", made)
            out = await wait_for(f"the check judges the promise {want}",
                                 lambda: outcome_of(data, meta["promise"]))
            check(out["result"] == want and out["author"] == "ci:checks",
                  f"exit {code} of the check is recorded as {want}, in the checker's name", out)
        open(verdict, "w").write("3")
        res = await s.call_tool("echo", {"text": "undecided"})
        pending = res.meta["stepwise"]["promise"]
        await wait_for("an undecided check is tried again",
                       lambda: open(attempts).read().split().count(pending) >= 2)
        check(outcome_of(data, pending) is None, "a check that exits 3 records nothing")
        open(verdict, "w").write("0")
        out = await wait_for("a retried check judges once it decides", lambda: outcome_of(data, pending))
        check(out["result"] == "kept", "the retry recorded kept", out)

        res = await s.call_tool("echo", {"text": "fourth"})
        check(not res.is_error, "the fourth call of the hour is within the budget", text(res))
        first = decisions(data, "agent:bot")[0]
        before = len(calls_seen(calls))
        res = await s.call_tool("echo", {"text": "fifth"})
        t = text(res)
        check(res.is_error and "budget_exhausted" in t and len(calls_seen(calls)) == before,
              "the fifth call is refused for the tool's budget and never reaches the upstream", t)
        last = decisions(data, "agent:bot")[-1]
        start = datetime.datetime.fromisoformat(first["at"].replace("Z", "+00:00"))
        retry = datetime.datetime.fromisoformat(last["earliest_retry"].replace("Z", "+00:00"))
        check(last["reasons"][0] == "budget_exhausted" and last["retryable"] is True
              and last["budget"]["calls_used"] == 4 and last["budget"]["calls"] == 4
              and last["budget"]["per"] == "1h" and last["budget"]["of"] == "tool"
              and abs((retry - start).total_seconds() - 3600) < 1,
              "the decision log has the budget used and earliest_retry, an hour after the first call", last)

    # The budget holds across a restart: it is counted again from the decision log.
    async with session(data, calls, "agent:bot") as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        res = await s.call_tool("echo", {"text": "after restart"})
        check(res.is_error and "budget_exhausted" in text(res),
              "after a restart the budget is still spent", text(res))
    return promises


async def on_demand(data, verdict):
    """`stepwise gate check` judges now, due or not."""
    open(verdict, "w").write("1")
    code, answer = run(data, "gate", "check", "--principal", "agent:later", "--promise", "nope")
    check(code == 2 and "--promise" in answer and "nope" in answer,
          "gate check of an unknown promise exits 2 naming it", answer)
    # A promise of agent:later due in an hour, made as the gate would make it.
    cli(data, "record", "promise", "--id", "later-1", "--promisor", "agent:later",
        "--promisee", "ci:checks", "--scope", "propose", "--stake", "2", "--due", "2999-01-01T00:00:00Z")
    code, answer = run(data, "gate", "check", "--principal", "agent:later")
    check(code == 0 and [j["promise"] for j in answer["judged"]] == ["later-1"]
          and answer["judged"][0]["result"] == "broken" and answer["judged"][0]["exit"] == 1,
          "gate check runs the check now and records what it decides", answer)
    out = outcome_of(data, "later-1")
    check(out is not None and out["author"] == "ci:checks" and out["result"] == "broken",
          "the outcome is the checker's", out)
    code, answer = run(data, "gate", "check", "--principal", "agent:later")
    check(code == 0 and answer["judged"] == [], "nothing left to check", answer)
    cli(data, "record", "promise", "--id", "later-2", "--promisor", "agent:later",
        "--promisee", "ci:checks", "--scope", "propose", "--stake", "2", "--due", "2999-01-01T00:00:00Z")
    http_judge(data, "later-2")


def http_judge(data, promise):
    """A CI system judges over HTTP with the checker's recorder key, as docs/AGENTS.md shows."""
    import urllib.error
    import urllib.request
    key = common.create_key(data, "recorder", "ci:checks")
    other = common.create_key(data, "recorder", "ci:other")
    server = subprocess.Popen([BIN, "--data", data, "serve", "--addr", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = server.stdout.readline().split("listening on ")[1].split()[0]

        def request(method, path, token, body=None):
            req = urllib.request.Request(base + path, method=method,
                                         data=json.dumps(body).encode() if body else None,
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req) as r:
                    return r.status, json.load(r)
            except urllib.error.HTTPError as e:
                return e.code, json.load(e)

        status, waiting = request("GET", "/v1/promises?open=true&promisee=ci:checks", key)
        check(status == 200 and promise in [p["id"] for p in waiting["promises"]],
              "the checker's key lists what awaits its judgement", waiting)
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        outcome = {"kind": "outcome", "at": now, "promise": promise, "result": "kept"}
        status, answer = request("POST", "/v1/events", other, outcome)
        check(status == 422 and answer["field"] == "author" and "only ci:checks may" in answer["message"],
              "another principal's key may not judge the checker's promise", answer)
        status, answer = request("POST", "/v1/events", key, outcome)
        check(status == 201, "the checker's recorder key judges it over HTTP", answer)
    finally:
        server.terminate()
        server.wait(timeout=30)
    out = outcome_of(data, promise)
    check(out["author"] == "ci:checks" and out["result"] == "kept", "the outcome is the checker's", out)


def earn_deploy(data, who):
    """`who` keeps enough promises to Bob to be a deployer itself (it may approve deploys)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    for i in range(6):
        pid = f"{who}-earned-{i}"
        at = (now + datetime.timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        cli(data, "record", "promise", "--id", pid, "--promisor", who, "--promisee", "user:bob",
            "--scope", "deploy", "--stake", "5", "--due", "2999-01-01T00:00:00Z", "--at", at)
        cli(data, "record", "outcome", "--promise", pid, "--result", "kept", "--author", "user:bob")
    d = cli(data, "decide", who, "deploy", "--stake", "5")
    check(d["allowed"], f"{who} may deploy at stake 5 itself", d)


def elicited(answer, seen, delay=0.0):
    """An elicitation callback that records what it was asked and answers `answer`."""
    async def callback(context, params):
        seen.append(params.message)
        if delay:
            await asyncio.sleep(delay)
        if answer == "accept":
            return types.ElicitResult(action="accept", content={"note": "looked at the diff"})
        return types.ElicitResult(action=answer)
    return callback


async def approvals(data, calls):
    """A call the ladder refuses "not yet" is put to an approver who may do it itself."""
    earn_deploy(data, "user:ann")
    upstream = [sys.executable, os.path.join(HERE, "upstream.py"), calls]
    params = StdioServerParameters(
        command=BIN, args=["--data", data, *GATE, "--principal", "agent:bot", "--user", "user:ann",
                           "--", *upstream])
    for answer, delay in (("accept", 0), ("decline", 0), ("accept", 4.5)):
        seen = []
        async with stdio_client(params) as (r, w), \
                ClientSession(r, w, elicitation_callback=elicited(answer, seen, delay)) as s:
            await s.initialize()
            before = len(calls_seen(calls))
            res = await s.call_tool("deploy", {"service": "web", "amount": 5})
            meta = (res.meta or {}).get("stepwise", {})
        check(len(seen) == 1 and "agent:bot asks to call \"deploy\"" in seen[0] and "user:ann" in seen[0],
              f"elicitation ({answer}): the user is asked, with what and why", seen)
        if answer == "accept" and not delay:
            check(not res.is_error and len(calls_seen(calls)) == before + 1,
                  "an approved call goes through", text(res))
            check(meta.get("approver") == "user:ann", "its _meta names the approver", meta)
            approval = entry(data, meta["approval_index"])
            promise = entry(data, meta["promise_index"])
            listed = [p for p in cli(data, "promises", "--open", "--promisee", "user:ann")["promises"]
                      if p["id"] == promise["id"]]
            check(len(listed) == 1 and listed[0].get("approver") == "user:ann",
                  "the approved call's promise names its approver", listed)
            check(approval["kind"] == "approval" and approval["author"] == "user:ann"
                  and approval["subject"] == "agent:bot" and approval["promise"] == promise["id"]
                  and approval["stake"] == 5 and approval["note"] == "looked at the diff",
                  "the approval is in the log, by the approver, naming the call's promise", approval)
            last = decisions(data, "agent:bot")[-1]
            check(last["result"] == "forwarded" and last["approver"] == "user:ann"
                  and last["approval_index"] == meta["approval_index"],
                  "the decision log names the approver of the forwarded call", last)
        else:
            code = "approval_declined" if answer == "decline" else "approval_timeout"
            check(res.is_error and code in text(res) and len(calls_seen(calls)) == before,
                  f"a {'declined' if answer == 'decline' else 'timed-out'} call is refused ({code}) "
                  "and never reaches the upstream", text(res))

    # Without elicitation: the call waits on the approvers' queue.
    plain = StdioServerParameters(
        command=BIN, args=["--data", data, *GATE, "--principal", "agent:bot", "--", *upstream])
    for how in ("approve", "decline", "nobody"):
        async with stdio_client(plain) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            before = len(calls_seen(calls))
            call = asyncio.create_task(s.call_tool("deploy", {"service": "api", "amount": 5}))
            queue = []
            deadline = time.monotonic() + 5
            while not queue and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                queue = cli(data, "approvals", "--approver", "user:ann")["approvals"]
            check(len(queue) == 1 and queue[0]["approvers"] == ["user:ann"] and queue[0]["tool"] == "deploy",
                  f"queue ({how}): the held call is listed for the approvers who may do it themselves", queue)
            seq = str(queue[0]["seq"])
            if how != "nobody":
                code, answer = run(data, "approvals", how, seq, "--as", "user:newbie")
                check(code == 2 and "not among the approvers" in answer,
                      "a principal who may not approve it is refused", answer)
                code, answer = run(data, "approvals", how, seq, "--as", "user:ann")
                check(code == 0 and answer["answers"] == int(seq),
                      f"the approver answers with `stepwise approvals {how}`", answer)
            res = await call
        if how == "approve":
            meta = res.meta["stepwise"]
            check(not res.is_error and meta["approver"] == "user:ann" and len(calls_seen(calls)) == before + 1,
                  "approved on the queue, the held call goes through", (text(res), meta))
        else:
            code = "approval_declined" if how == "decline" else "approval_timeout"
            check(res.is_error and code in text(res) and len(calls_seen(calls)) == before,
                  f"queue: a {how} call is refused with {code}", text(res))
            if how == "nobody":
                code, answer = run(data, "approvals", "approve", seq, "--as", "user:ann")
                check(code == 2 and "is over" in answer, "a held call past its time cannot be approved", answer)
    check(cli(data, "approvals")["approvals"] == [], "nothing is left on the queue")

    # Nobody may approve: the refusal says so.
    async with stdio_client(plain) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        res = await s.call_tool("slow", {"seconds": 0, "amount": 5})
        t = text(res)
        check(res.is_error and "none of the tool's approvers may let it through" in t
              and "user:newbie (approver_not_allowed" in t,
              "an approver who may not do it itself is not asked, and the refusal says why", t)


async def pins(data, calls):
    """A tool whose definition changed is refused until an operator accepts it."""
    pinned = json.load(open(os.path.join(data, "gate-tools.json")))
    check({"echo", "deploy"} <= set(pinned["tools"]), "the gate pinned the upstream's tools", list(pinned["tools"]))
    async with session(data, calls, "agent:bot", variant="2") as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        listed = {t.name: t for t in (await s.list_tools()).tools}
        check("tool_changed" in listed["deploy"].description,
              "the listing marks the changed tool", listed["deploy"].description)
        before = len(calls_seen(calls))
        res = await s.call_tool("deploy", {"service": "web", "amount": 5})
        t = text(res)
        check(res.is_error and "tool_changed" in t and "input `force` added" in t
              and "description changed" in t and "accept-tool deploy" in t,
              "a call to the changed tool is refused, saying what changed and what to do", t)
        check(len(calls_seen(calls)) == before, "the changed tool was not called")
        last = decisions(data, "agent:bot")[-1]
        check(last["reasons"] == ["tool_changed"] and "force" in last["error"],
              "the decision log keeps the refusal and what changed", last)
        code, answer = run(data, "gate", "accept-tool", "deploy")
        check(code == 0 and "`force` added" in answer["changed"],
              "gate accept-tool accepts the change and says what it was", answer)
        # Recorded in the log: the policy pins the accepted definition, and its policy entry
        # (the text kept beside the log) holds the pin.
        entry = cli(data, "log", "get", str(answer["policy_entry"]))
        policy = open(os.path.join(data, "stepwise.toml")).read()
        check(entry["event"]["kind"] == "policy" and f'pin = "{answer["sha256"]}"' in policy
              and entry["event"]["sha256"] == hashlib.sha256(policy.encode()).hexdigest(),
              "the acceptance is recorded in the log: a policy entry whose policy pins the definition",
              (entry, policy[-400:]))
        res = await s.call_tool("deploy", {"service": "web", "amount": 5})
        t = text(res)
        # (The ladder says not yet; the call is held for Ann, and nobody answers in time.)
        recent = decisions(data, "agent:bot")[-3:]
        check("tool_changed" not in t
              and any(d["reasons"][:1] == ["capability_needs_level"] for d in recent),
              "once accepted, the call is decided by the ladder again", (t, recent))
    code, answer = run(data, "gate", "accept-tool", "deploy")
    check(code == 2 and "nothing to accept" in answer, "accepting again: nothing to accept, exit 2", answer)
    code, answer = run(data, "gate", "accept-tool", "nope")
    check(code == 2 and "has not seen a tool" in answer, "an unknown tool is named", answer)
    history = json.load(open(os.path.join(data, "gate-tools.json")))["tools"]["deploy"]["accepted"]
    check(len(history) == 1 and history[0]["replaced"] == pinned["tools"]["deploy"]["pinned"]["sha256"],
          "the acceptance is kept in the tool's history", history)


async def traces(data, calls):
    """Each gated call is a span over OTLP, its decision a child span, read back with the official
    opentelemetry-proto package."""
    import otlp_collector
    url, spans, stop = otlp_collector.start()
    try:
        # (deploy's pin is the second definition now: pins() accepted it.)
        async with session(data, calls, "agent:traced", variant="2", otlp=url) as (r, w), \
                ClientSession(r, w) as s:
            await s.initialize()
            allowed = await s.call_tool("echo", {"text": "traced"})
            denied = await s.call_tool("deploy", {"service": "web", "amount": 5})
        promise = allowed.meta["stepwise"]["promise"]
        check(denied.is_error, "the traced session's second call is refused")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(spans) < 4:
            time.sleep(0.1)
    finally:
        stop()
    calls_ = [x for x in spans if x["name"] == "stepwise.gate.call"]
    decides = [x for x in spans if x["name"] == "stepwise.decide"]
    check(len(calls_) == 2 and len(decides) == 2, "two call spans and two decision spans arrive",
          [(x["name"], x["attributes"]) for x in spans])
    by_tool = {c["attributes"]["stepwise.tool"]: c for c in calls_}
    echo, deploy = by_tool["echo"], by_tool["deploy"]
    check(echo["attributes"]["stepwise.result"] == "forwarded"
          and echo["attributes"]["stepwise.promise"] == promise
          and echo["attributes"]["stepwise.principal"] == "agent:traced",
          "the allowed call's span has the tool, the result and the promise", echo)
    check(deploy["attributes"]["stepwise.result"] == "denied" and "stepwise.promise" not in deploy["attributes"],
          "the refused call's span says so", deploy)
    for call, verdict, reason in ((echo, "allowed", "level"), (deploy, "denied", "capability_needs_level")):
        child = [d for d in decides if d["parent_span_id"] == call["span_id"]]
        check(len(child) == 1, f"the {verdict} call's decision is its child span", (call, decides))
        a = child[0]["attributes"]
        check(a["stepwise.verdict"] == verdict and a["stepwise.level"] == 0
              and a["stepwise.level.name"] == "newcomer" and a["stepwise.reasons"][0] == reason
              and a["stepwise.stake"] in (1.0, 5.0) and a["stepwise.capability"] in ("propose", "deploy")
              and a["stepwise.log_size"] > 0,
              f"the {verdict} decision's span has the verdict, level, reasons and stake", a)


EVERYTHING_POLICY = LADDER + """
[gate.tools."echo"]
capability = "propose"
stake = 1
promisee = "user:ann"
due = "1h"

[gate.tools."get-sum"]
capability = "deploy"
stake_arg = "a"
promisee = "user:ann"
due = "1h"
approvers = ["user:ann"]
"""


async def everything(tmp):
    """The same loop in front of a real upstream from npm: @modelcontextprotocol/server-everything
    (scripts/mcp-check installs it and names it in EVERYTHING)."""
    server = os.environ.get("EVERYTHING")
    check(server and os.path.exists(server), "server-everything is installed (scripts/mcp-check)", server)
    data = os.path.join(tmp, "everything")
    cli(data, "init")
    with open(os.path.join(data, "stepwise.toml"), "w") as f:
        f.write(EVERYTHING_POLICY)
    earn_deploy(data, "user:ann")
    seen = []
    params = StdioServerParameters(
        command=BIN, args=["--data", data, *GATE, "--principal", "agent:bot", "--user", "user:ann",
                           "--", server, "stdio"])
    async with stdio_client(params) as (r, w), \
            ClientSession(r, w, elicitation_callback=elicited("accept", seen)) as s:
        await s.initialize()
        listed = {t.name for t in (await s.list_tools()).tools}
        check({"echo", "get-sum"} <= listed, "server-everything's tools pass through the gate", listed)
        res = await s.call_tool("echo", {"message": "hello"})
        check(not res.is_error and "hello" in text(res) and res.meta["stepwise"]["promise"],
              "server-everything: echo allowed, with a promise", text(res))
        res = await s.call_tool("get-sum", {"a": 5, "b": 2})
        meta = res.meta["stepwise"]
        check(len(seen) == 1 and not res.is_error and "7" in text(res) and meta["approver"] == "user:ann",
              "server-everything: get-sum at stake 5, refused not yet, approved by elicitation, answered", (text(res), meta))
        res = await s.call_tool("get-env", {})
        check(res.is_error and "tool_not_in_policy" in text(res), "server-everything: a tool the policy does not name is refused")
    pinned = json.load(open(os.path.join(data, "gate-tools.json")))["tools"]
    check({"echo", "get-sum", "get-env"} <= set(pinned), "server-everything's tools are pinned", sorted(pinned))


async def main():
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        calls = os.path.join(tmp, "calls")
        verdict = os.path.join(tmp, "verdict")
        open(verdict, "w").write("0")
        cli(data, "init")
        with open(os.path.join(data, "stepwise.toml"), "w") as f:
            q = json.dumps
            f.write(POLICY.format(python=q(sys.executable), judge=q(os.path.join(HERE, "judge.py")),
                                  verdict=q(verdict)))
        await shadow(data, calls)
        await checks_and_budget(data, calls, verdict)
        await on_demand(data, verdict)
        await approvals(data, calls)
        await pins(data, calls)
        await traces(data, calls)
        await everything(tmp)
    print(f"gate loop check: {common.passed()} checks passed")


asyncio.run(main())
