"""`/mcp` of `stepwise serve` against the official Python MCP SDK as its client, over streamable
HTTP with an API key as the bearer token.

Usage: python check_http.py path/to/stepwise   (run by scripts/mcp-check, which makes the venv)

The server starts on a fresh data directory with three keys: an agent's and its promisee's
(recorders, each recording as its principal) and a reader's. The agent is told what it may do,
exactly as `POST /v1/decide` answers; it records a promise, in its own name, and cannot judge it;
the reader may read but not record; the promisee judges the promise. Exits non-zero on the first
failed check.
"""

import asyncio
import datetime
import subprocess
import tempfile

import httpx2
import common
from common import BIN, check, create_key, text
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

TOOLS = {"decide", "explain", "trust", "ladder", "promise", "outcome", "promises_open"}




class Api:
    """The server's REST API, to compare answers with."""

    def __init__(self, base, key):
        self.base, self.headers = base, {"Authorization": f"Bearer {key}"}

    async def get(self, path):
        async with httpx2.AsyncClient(headers=self.headers) as c:
            return await c.get(self.base + path)

    async def post(self, path, body):
        async with httpx2.AsyncClient(headers=self.headers) as c:
            return await c.post(self.base + path, json=body)

    async def has_entry(self, index):
        return (await self.get(f"/v1/events/{index}")).status_code == 200


def session(url, key):
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"})
    return client, streamable_http_client(url, http_client=client)


async def call(url, key, story):
    client, transport = session(url, key)
    async with client, transport as (read, write), ClientSession(read, write) as s:
        await s.initialize()
        await story(s)


async def main_async(base, keys, due):
    url = base + "/mcp"
    api = Api(base, keys["reader"])

    async with httpx2.AsyncClient() as c:
        listed = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        accept = {"Accept": "application/json, text/event-stream"}
        for headers in [accept, {**accept, "Authorization": "Bearer sw_not-a-key"}]:
            r = await c.post(url, json=listed, headers=headers)
            check(r.status_code == 401 and r.json()["code"] == "unauthorized", "no valid key: 401 as the API answers", r.text)

    async def agent(s):
        tools = (await s.list_tools()).tools
        check({t.name for t in tools} == TOOLS, "every tool is listed", [t.name for t in tools])
        for capability, stake in [("propose", 5), ("act:high", 20000)]:
            r = await s.call_tool("decide", {"subject": "agent:bot", "capability": capability, "stake": stake})
            d = r.structured_content
            check(not r.is_error, f"decide {capability} at {stake} is a normal result", text(r))
            rest = await api.post(
                "/v1/decide", {"subject": "agent:bot", "capability": capability, "stake": stake, "at": d["at"]}
            )
            check(d == rest.json(), f"decide {capability} at {stake} is POST /v1/decide's answer", (d, rest.text))
        check(d["allowed"] is False and d["retryable"] is False, "act:high at 20000: denied, never", d)

        promise = {"id": "p-1", "promisee": "user:ann", "scope": "deploy:staging", "stake": 5, "due": due}
        r = await s.call_tool("promise", promise)
        check(not r.is_error, "the agent's promise is recorded", text(r))
        index = r.structured_content["index"]
        event = (await api.get(f"/v1/events/{index}")).json()["event"]
        check(event["promisor"] == "agent:bot", "in the key's principal's name", event)

        r = await s.call_tool("outcome", {"promise": "p-1", "result": "kept"})
        check(r.is_error and "promisee" in text(r), "the promisor may not judge its own promise", text(r))
        r = await s.call_tool("promise", {**promise, "id": "p-2", "stake": "abc"})
        check(r.is_error and "stake" in text(r), "a bad argument is a tool error naming it", text(r))
        check(not await api.has_entry(index + 1), "neither recorded anything")

        policy = (await s.read_resource("stepwise://policy")).contents[0].text
        served = (await api.get("/v1/policy")).json()["toml"]
        check(policy == served, "the policy resource is the served policy")

    async def reader(s):
        r = await s.call_tool("explain", {"subject": "agent:bot"})
        # The log holds its policy entry (entry 0, recorded when the server started) and p-1.
        check(not r.is_error and r.structured_content["log_size"] == 2, "a reader key reads", text(r))
        r = await s.call_tool("promise", {"id": "p-3", "promisee": "user:ann", "scope": "x", "stake": 1, "due": due})
        check(r.is_error and "recorder" in text(r), "a reader key may not record, and is told the role", text(r))
        check(not await api.has_entry(2), "nothing was recorded")

    async def promisee(s):
        r = await s.call_tool("promises_open", {"promisee": "user:ann"})
        check([p["id"] for p in r.structured_content["promises"]] == ["p-1"], "p-1 awaits ann", text(r))
        r = await s.call_tool("outcome", {"promise": "p-1", "result": "kept"})
        check(not r.is_error and r.structured_content["index"] == 2, "the promisee records it kept", text(r))
        r = await s.call_tool("promises_open", {})
        check(r.structured_content["promises"] == [], "nothing awaits judgement any more", text(r))

    await call(url, keys["bot"], agent)
    await call(url, keys["reader"], reader)
    await call(url, keys["ann"], promisee)


def main():
    with tempfile.TemporaryDirectory() as work:
        data = f"{work}/data"
        subprocess.run([BIN, "--data", data, "init"], check=True, capture_output=True)
        keys = {
            "bot": create_key(data, "recorder", "agent:bot"),
            "ann": create_key(data, "recorder", "user:ann"),
            "reader": create_key(data, "reader"),
        }
        due = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        server = subprocess.Popen(
            [BIN, "--data", data, "serve", "--addr", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            line = server.stdout.readline()
            check("listening on http://" in line, "the server listens", line)
            base = line.split("listening on ")[1].split()[0]
            asyncio.run(main_async(base, keys, due))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"stepwise serve /mcp: {common.passed()} checks passed")


main()
