"""The review page's calls awaiting approval (run by check.py): a call `stepwise gate` holds for
the reviewer, approved with the page's button; the approval is in the log in the reviewer's name,
and the queue empties."""

import datetime
import json
import sqlite3

from common import check


def held(ctx, base, keys, reader, console, data):
    """A held call written into the decision log as the gate writes one (the gate is not in this
    test: tests/mcp/gate_loop.py runs it), then approved on the review page."""
    now = datetime.datetime.now(datetime.timezone.utc)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    call = {
        "principal": "agent:bot", "tool": "deploy", "capability": "propose", "stake": 1.0,
        "promisee": "user:reviewer", "allowed": False, "reasons": ["stake_above_limit"],
        "retryable": True, "earliest_retry": None, "level": 0, "evidence": [], "at": iso(now),
        "log_size": 1, "result": "held", "promise": "ui-held-call", "promise_index": None,
        "error": None, "approvers": ["user:reviewer"],
        "expires_at": iso(now + datetime.timedelta(minutes=10)),
    }
    db = sqlite3.connect(f"{data}/ledger.sqlite", timeout=10)
    with db:
        seq = db.execute("INSERT INTO decisions (at, principal, body) VALUES (?, ?, ?) RETURNING seq",
                         (int(now.timestamp() * 1e6), "agent:bot", json.dumps(call))).fetchone()[0]
    db.close()
    queue = reader.get("/v1/approvals?approver=user:reviewer")["approvals"]
    check([a["seq"] for a in queue] == [seq], "approvals: GET /v1/approvals lists the held call", queue)

    page = console.watch(ctx.new_page())
    page.goto(f"{base}/ui/review#key={keys['reviewer']}")
    page.wait_for_selector(f"#approvals tr[data-seq='{seq}']")
    row = page.inner_text(f"#approvals tr[data-seq='{seq}']")
    check("agent:bot" in row and "deploy" in row and "stake_above_limit" in row,
          "approvals: the review page shows who asks for what, and why it was refused", row)
    page.click(f"#approvals tr[data-seq='{seq}'] button[data-answer=approve]")
    page.wait_for_selector(f"#approval-result[data-seq='{seq}']")
    index = int(page.locator("#approval-result a").get_attribute("href").rsplit("/", 1)[1])
    e = reader.get(f"/v1/events/{index}")["event"]
    check(e["kind"] == "approval" and e["author"] == "user:reviewer" and e["subject"] == "agent:bot"
          and e["promise"] == "ui-held-call" and e["decision"] == seq,
          "approvals: approved on the page, the approval is in the log in the reviewer's name", e)
    page.wait_for_selector("#approvals-list .empty")
    check(reader.get("/v1/approvals")["approvals"] == [], "approvals: the answered call left the queue")
    errors = console.take()
    check(not errors, "no console errors on the review page's approvals", errors)
    page.close()
