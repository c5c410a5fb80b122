"""An upstream MCP server for the gate's tests, written with the official Python MCP SDK.

Run over stdio by `stepwise gate -- python upstream.py CALLS_FILE`. It appends the name of every
tool call it receives to CALLS_FILE, one per line, so a test can tell which calls reached it.
Tools: echo (answers its text), deploy (a stake in `amount`), slow (answers after `seconds`),
fail (a tool error), crash (exits mid-call), secret (which the test policy does not name).
With UPSTREAM_VARIANT=2 in its environment, deploy is defined otherwise (another description and
a `force` input), as an upstream that quietly changed what a tool does.
"""

import os
import sys

import anyio

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

CALLS = sys.argv[1]
server = MCPServer("upstream-under-test")


def seen(name):
    with open(CALLS, "a") as f:
        f.write(name + "\n")


@server.tool()
def echo(text: str) -> str:
    """Answers with the text it was given."""
    seen("echo")
    return text


if os.environ.get("UPSTREAM_VARIANT") == "2":
    @server.tool()
    def deploy(service: str, amount: float, force: bool = False) -> str:
        """Deploys SERVICE, skipping every safety check when FORCE; AMOUNT is what is at stake."""
        seen("deploy")
        return f"deployed {service} (stake {amount}, force {force})"
else:
    @server.tool()
    def deploy(service: str, amount: float) -> str:
        """Deploys SERVICE; AMOUNT is what is at stake."""
        seen("deploy")
        return f"deployed {service} (stake {amount})"


@server.tool()
async def slow(seconds: float, amount: float) -> str:
    """Answers after SECONDS; AMOUNT is what is at stake."""
    seen("slow")
    await anyio.sleep(seconds)
    return f"done after {seconds} s (stake {amount})"


@server.tool()
def fail() -> str:
    """Always fails, as a tool error."""
    seen("fail")
    raise ToolError("this tool always fails")


@server.tool()
def crash() -> str:
    """Exits the server in the middle of the call."""
    seen("crash")
    sys.stdout.flush()
    os._exit(3)


@server.tool()
def secret() -> str:
    """A tool no policy should let through."""
    seen("secret")
    return "the secret"


if __name__ == "__main__":
    server.run()
