"""The dashboard (/ui/ of `stepwise serve`) in a real browser: Debian's Chromium driven by
Playwright (from PyPI), against a server holding the Bitcoin OTC trust network.

Usage: python3 tests/ui/check.py path/to/stepwise   (run by scripts/ui-check)

The server starts on a fresh data directory, Bitcoin OTC is imported as history, keys are made
for a reader, a reviewer (recorder) and an agent that makes promises to the reviewer (recorder).
Every page is opened and what it shows is compared with the JSON API's answers; proofs are
verified in the page, and then tampered with in flight (the inclusion proof, the entry's bytes,
the checkpoint's signature, the consistency proof) to see them fail. Screenshots go to
tests/ui/out/ (or $UI_OUT). Exits non-zero on the first failed check.
"""

import base64
import datetime
import glob
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import threading
import urllib.error
import urllib.parse
import urllib.request

from playwright.sync_api import sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The binary, the counted check and keys made with the CLI, as the MCP checks have them.
sys.path.insert(0, str(ROOT / "tests" / "mcp"))
import common  # noqa: E402
from common import BIN, check, create_key  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "ui"))
import privacy  # noqa: E402
import approvals  # noqa: E402
import receipts  # noqa: E402

SHARED = ROOT.parent / "shared"
OTC = SHARED / "data" / "soc-sign-bitcoinotc.csv.gz"
VECTORS = SHARED / "testdata" / "rfc6962"
OUT = pathlib.Path(os.environ.get("UI_OUT") or ROOT / "tests" / "ui" / "out")
CHROMIUM = os.environ.get("UI_CHROMIUM", "/usr/bin/chromium")
TIMEOUT = 15_000  # ms, for anything the page waits on

started = time.monotonic()


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_int(n):
    return f"{n:,}"


class Api:
    """The JSON API with one key, to compare the pages with."""

    def __init__(self, base, key):
        self.base, self.key = base, key

    def call(self, method, path, body=None):
        req = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if r.headers.get_content_type() == "application/json" else raw.decode())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path):
        status, body = self.call("GET", path)
        if status != 200:
            sys.exit(f"GET {path}: {status} {body}")
        return body

    def post(self, path, body):
        return self.call("POST", path, body)


def start_server(data):
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    proc = subprocess.Popen(
        [BIN, "--data", data, "serve", "--addr", "127.0.0.1:0", "--rate", "10000", "--burst", "20000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            # Keep reading the server's output so it never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, m.group(1)
    proc.kill()
    sys.exit("stepwise serve did not print its address")


def wait_for(cond, seconds=30, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


def wait_js(page, expression, seconds=TIMEOUT / 1000):
    """Waits until a JavaScript expression is true in the page. (Playwright's wait_for_function
    evaluates a string, which the dashboard's Content-Security-Policy forbids.)"""
    deadline = time.monotonic() + seconds
    while True:
        if page.evaluate(f"() => {{ try {{ return Boolean({expression}); }} catch {{ return false; }} }}"):
            return
        if time.monotonic() > deadline:
            sys.exit(f"FAIL: timed out waiting in {page.url} for {expression}")
        time.sleep(0.1)


class Console:
    """Console errors and uncaught exceptions of every page, with the page's address."""

    def __init__(self):
        self.errors = []

    def watch(self, page):
        page.on("console", lambda m: m.type == "error" and self.errors.append((page.url, m.text)))
        page.on("pageerror", lambda e: self.errors.append((page.url, f"pageerror: {e}")))
        return page

    def take(self):
        errors, self.errors = self.errors, []
        return errors


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    data = tempfile.mkdtemp(prefix="stepwise-ui-")

    t0 = time.monotonic()
    run = subprocess.run(
        [BIN, "--data", data, "import", str(OTC), "--format", "bitcoin-otc", "--id-prefix", "otc:", "--history"],
        capture_output=True,
        text=True,
    )
    check(run.returncode == 0, f"Bitcoin OTC imported as history ({time.monotonic() - t0:.0f} s)", run.stderr[-2000:])

    keys = {
        "reader": create_key(data, "reader"),
        "admin": create_key(data, "admin", "ops:ui"),
        "reviewer": create_key(data, "recorder", "user:reviewer"),
        "agent": create_key(data, "recorder", "agent:bot"),
        "reader-reviewer": create_key(data, "reader", "user:reviewer"),
    }
    server, base = start_server(data)
    try:
        run_checks(base, keys, data)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data, ignore_errors=True)
    print(f"ui: {common.passed()} checks passed ({time.monotonic() - started:.0f} s; screenshots in {OUT})")


def run_checks(base, keys, data):
    reader = Api(base, keys["reader"])
    agent = Api(base, keys["agent"])
    admin = Api(base, keys["admin"])

    who = reader.get("/v1/whoami")
    check(who["role"] == "reader" and who["principal"] is None, "whoami: the reader key", who)

    # Promises the agent makes to the reviewer: two due tomorrow, one already past due.
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    promises = [
        {"kind": "promise", "at": iso(now), "id": "ui-kept", "promisor": "agent:bot", "promisee": "user:reviewer", "scope": "deploy", "stake": 1, "due": iso(now + datetime.timedelta(days=1))},
        {"kind": "promise", "at": iso(now), "id": "ui-broken", "promisor": "agent:bot", "promisee": "user:reviewer", "scope": "deploy", "stake": 1, "due": iso(now + datetime.timedelta(days=1))},
        {"kind": "promise", "at": iso(now - datetime.timedelta(hours=2)), "id": "ui-late", "promisor": "agent:bot", "promisee": "user:reviewer", "scope": "deploy", "stake": 1, "due": iso(now - datetime.timedelta(hours=1))},
        {"kind": "promise", "at": iso(now), "id": "ui-refused", "promisor": "agent:bot", "promisee": "user:reviewer", "scope": "deploy", "stake": 1, "due": iso(now + datetime.timedelta(days=1))},
    ]
    status, answer = agent.post("/v1/events", promises)
    check(status == 200 and answer["recorded"] == 4, "the agent's four promises to the reviewer recorded", answer)
    # A vouch, so a principal page has one to show.
    status, answer = admin.post("/v1/events?history=true", [{"kind": "vouch", "at": iso(now), "voucher": "otc:1", "subject": "otc:2", "weight": 0.5}])
    check(status == 200 and answer["recorded"] == 1, "a vouch otc:1 → otc:2 recorded as history", answer)

    # user:climber keeps three promises at stake 5 to three promisees (loaded as history, dated
    # days ago so its tenure counts): it climbs to level 1. The live check below demotes it.
    past = lambda **kw: iso(now - datetime.timedelta(**kw))
    climb = [{"kind": "promise", "at": past(days=3), "id": f"climb-{i}", "promisor": "user:climber", "promisee": f"user:p{i}", "scope": "deploy", "stake": 5, "due": past(days=2)} for i in range(3)]
    climb += [{"kind": "outcome", "at": past(days=2, hours=12 - i), "promise": f"climb-{i}", "result": "kept", "author": f"user:p{i}"} for i in range(3)]
    climb += [{"kind": "promise", "at": past(hours=1), "id": "climb-fall", "promisor": "user:climber", "promisee": "user:p0", "scope": "deploy", "stake": 5, "due": iso(now + datetime.timedelta(days=1))}]
    status, answer = admin.post("/v1/events?history=true", climb)
    check(status == 200 and answer["recorded"] == len(climb), "user:climber's record loaded as history", answer)
    x = reader.get("/v1/principals/user:climber/explain")
    check(x["level"]["index"] == 1 and len(x["timeline"]) == 1, "user:climber was promoted to level 1", x["timeline"])

    settle(reader)

    console = Console()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        ctx.set_default_timeout(TIMEOUT)

        vectors(ctx, base, console)
        sign_in(ctx, base, keys, console)
        page = console.watch(ctx.new_page())
        page.goto(f"{base}/ui/#key={keys['reader']}")
        page.wait_for_selector("#log-size")
        overview(page, reader, base)
        live(page, reader, agent, admin)
        principals(page, reader, base)
        principal(page, reader, agent, base)
        entry(ctx, page, reader, base, console)
        privacy.forgotten(ctx, base, reader, admin, console, wait_js)
        ladder(page, reader, base)
        keyboard(page, base)
        errors = console.take()
        check(not errors, "no console errors or page errors on any page the reader opened", errors)
        page.close()

        reconnect(ctx, base, keys["reader"], console)
        review(ctx, base, keys, reader, console)
        approvals.held(ctx, base, keys, reader, console, data)
        receipts.dropped(ctx, base, keys, reader, console, OUT)
        phone(browser, base, keys, console)
        browser.close()



# Runs verify.js on known-answer cases in the page: [name, wantErr, ok, reason] for each.
RUN_VECTORS = """async (cases) => {
  const v = await import('/ui/assets/verify.js');
  const b = (s) => v.b64ToBytes(s || '');
  const out = [];
  for (const [name, d] of cases) {
    const r = 'leafIdx' in d
      ? await v.verifyInclusion(d.leafIdx, d.treeSize, b(d.leafHash), (d.proof || []).map(b), b(d.root))
      : await v.verifyConsistency(d.size1, d.size2, (d.proof || []).map(b), b(d.root1), b(d.root2));
    out.push([name, d.wantErr, r.ok, r.reason]);
  }
  return out;
}"""

def vectors(ctx, base, console):
    """verify.js against the RFC 6962 known-answer vectors of transparency-dev/merkle."""
    cases = []
    for f in sorted(glob.glob(str(VECTORS / "**" / "*.json"), recursive=True)):
        cases.append([os.path.relpath(f, VECTORS), json.load(open(f))])
    check(len(cases) > 100, f"{len(cases)} RFC 6962 vectors read from {VECTORS}")
    page = console.watch(ctx.new_page())
    page.goto(f"{base}/ui/")
    page.wait_for_selector("#sign-in")
    results = page.evaluate(RUN_VECTORS, cases)
    for kind in ("inclusion", "consistency"):
        mine = [r for r in results if r[0].startswith(kind)]
        wrong = [r for r in mine if r[1] == r[2]]
        good = sum(1 for r in mine if not r[1])
        check(mine and not wrong, f"verify.js: {len(mine)} {kind} vectors ({good} valid accepted, {len(mine) - good} corrupted rejected)", wrong[:5])
    # Corruptions derived here from each valid proof: one bit of either root, or of any proof
    # hash, must make it fail (the vectors above leave some of these out, e.g. a wrong earlier root
    # with an intact later one).
    def flip(b64):
        raw = bytearray(base64.b64decode(b64))
        raw[-1] ^= 0x01
        return base64.b64encode(bytes(raw)).decode()

    derived = []
    for name, d in cases:
        if d["wantErr"]:
            continue
        if "leafIdx" in d:
            fields = ["root", "leafHash"]
        elif d["size1"] != d["size2"]:
            fields = ["root1", "root2"]
        else:
            continue
        for f in fields:
            derived.append([f"{name}: {f} flipped", {**d, f: flip(d[f]), "wantErr": True}])
        for i in range(len(d["proof"] or [])):
            proof = list(d["proof"])
            proof[i] = flip(proof[i])
            derived.append([f"{name}: proof[{i}] flipped", {**d, "proof": proof, "wantErr": True}])
    results = [[name, ok] for name, _, ok, _ in page.evaluate(RUN_VECTORS, derived)]
    accepted = [r[0] for r in results if r[1]]
    check(len(results) > 20 and not accepted, f"verify.js: {len(results)} corruptions of the valid vectors (one bit of a root, the leaf or a proof hash) all rejected", accepted[:5])

    # The hashes themselves: the standard 8-leaf tree's root, built from its leaves in the page.
    root = page.evaluate(
        """async () => {
          const v = await import('/ui/assets/verify.js');
          const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
          let level = [];
          for (const l of leaves) level.push(await v.leafHash(v.hexToBytes(l)));
          while (level.length > 1) {
            const next = [];
            for (let i = 0; i < level.length; i += 2) next.push(await v.nodeHash(level[i], level[i + 1]));
            level = next;
          }
          return v.bytesToHex(level[0]);
        }"""
    )
    check(root == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328", "verify.js: leaf and node hashes give the RFC 6962 root of 8 leaves", root)
    errors = console.take()
    check(not errors, "no console errors while verify.js ran the vectors", errors)
    page.close()


def sign_in(ctx, base, keys, console):
    page = console.watch(ctx.new_page())
    page.goto(f"{base}/ui/principals")
    page.wait_for_selector("#sign-in")
    page.screenshot(path=str(OUT / "sign-in.png"))
    check(page.locator("label[for=key]").inner_text() == "API key", "no key: the sign-in form, its input labelled")
    page.fill("#key", "sw_not-a-key")
    page.press("#key", "Enter")
    msg = page.wait_for_selector("#sign-in-message").inner_text()
    check("refused" in msg.lower() and page.evaluate("sessionStorage.length") == 0, "a wrong key: the form again, saying it was refused, nothing kept", msg)
    # The browser reports the refused request itself (401), and nothing else.
    errors = console.take()
    check(all("401" in e[1] for e in errors), "the only console messages are the browser's own note of the 401", errors)

    page.fill("#key", keys["reader"])
    page.press("#key", "Enter")
    page.wait_for_selector("#principals tbody tr")
    check(page.url.endswith("/ui/principals") and "reader" in page.inner_text("#whoami"), "signed in with the reader key: the view asked for, who is signed in", page.inner_text("#whoami"))
    check(keys["reader"] not in page.url, "the key is never in the address")

    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    check(page.evaluate("sessionStorage.getItem('stepwise.key')") is None, "sign out forgets the key and shows the form")

    page.goto(f"{base}/ui/ladder#key={keys['reader']}")
    page.wait_for_selector("#ladder")
    check(page.evaluate("location.hash") == "" and keys["reader"] not in page.url and page.evaluate("sessionStorage.getItem('stepwise.key')") == keys["reader"],
          "a #key= fragment signs in, is kept in session storage and removed from the address", page.url)

    # A key revoked or unknown mid-session: the next call's 401 brings the form back.
    page.evaluate("sessionStorage.setItem('stepwise.key', 'sw_revoked')")
    page.click("nav a[href='/ui/principals']")
    msg = page.wait_for_selector("#sign-in-message").inner_text()
    check("refused" in msg.lower(), "a 401 during a session brings back the sign-in form with the message", msg)
    console.take()
    page.close()


def overview(page, reader, base):
    o = reader.get("/v1/overview")
    page.wait_for_selector("#log-size")
    shown = page.inner_text("#log-size")
    check(shown == fmt_int(o["log_size"]), f"overview: log size {shown} as the API says", (shown, o["log_size"]))
    check(page.inner_text("#checkpoint-size") == fmt_int(o["checkpoint"]["size"]), "overview: the latest checkpoint's size")
    rows = page.locator("#levels tbody tr")
    check(rows.count() == len(o["levels"]) and all(
        rows.nth(i).locator("td").nth(2).inner_text() == fmt_int(l["principals"]) for i, l in enumerate(o["levels"])),
        f"overview: principals per level ({', '.join(str(l['principals']) for l in o['levels'])})")
    first = page.locator("#recent-events tbody tr").first.locator("a").first
    newest = o["recent_events"][0]["index"]
    check(first.get_attribute("href") == f"/ui/log/{newest}", f"overview: the newest event links to /ui/log/{newest}")
    overdue = page.locator("#overdue tbody tr")
    check(o["overdue"]["count"] >= 1 and overdue.count() == len(o["overdue"]["promises"]) and "ui-late" in page.inner_text("#overdue"),
          "overview: the promise past due is listed", o["overdue"])
    if o["recent_steps"]:
        check(page.locator("#recent-steps tbody tr").count() == len(o["recent_steps"]), "overview: recent promotions and demotions")
    page.screenshot(path=str(OUT / "overview.png"), full_page=True)


def live(page, reader, agent, admin):
    page.evaluate("window.__no_reload = true")
    before = int(page.get_attribute("#log-size", "data-value"))
    page.wait_for_selector("#live[data-live=on]")
    status, r = agent.post("/v1/events", {"kind": "rating", "at": iso(datetime.datetime.now(datetime.timezone.utc)), "rater": "agent:bot", "subject": "otc:1", "value": 0.5})
    check(status == 201, "an event appended through the API while the overview is open", r)
    wait_js(page, f"document.querySelector('#log-size') && document.querySelector('#log-size').dataset.value === '{before + 1}'")
    check(page.evaluate("window.__no_reload === true"), f"live: the overview shows log size {before + 1} without a reload")
    # A broken promise demotes user:climber at once: the overview lists the demotion, still without a reload.
    now = datetime.datetime.now(datetime.timezone.utc)
    status, r = admin.post("/v1/events?history=true", [{"kind": "outcome", "at": iso(now), "promise": "climb-fall", "result": "broken", "author": "user:p0"}])
    check(status == 200 and r["recorded"] == 1, "user:climber's promise judged broken through the API", r)
    wait_js(page, "document.querySelector('#recent-steps tbody tr') && document.querySelector('#recent-steps tbody tr').textContent.includes('demoted')")
    first = page.inner_text("#recent-steps tbody tr")
    steps = reader.get("/v1/overview")["recent_steps"]
    check(page.evaluate("window.__no_reload === true") and "user:climber" in first and "1 contributor → 0 newcomer" in first and steps[0]["principal"] == "user:climber" and steps[0]["to"] == 0,
          "live: the demotion shows in recent promotions and demotions, with its cause", first)
    check(page.locator("#recent-steps tbody tr").count() == len(steps) and any("promoted" in t for t in page.locator("#recent-steps tbody tr").all_inner_texts()),
          f"overview: the {len(steps)} recent steps, the promotion among them")
    page.screenshot(path=str(OUT / "overview.png"), full_page=True)


def settle(reader):
    """Waits until the principals table (recomputed in the background) has caught up with the log."""
    wait_for(lambda: reader.get("/v1/principals?limit=1")["log_size"] == reader.get("/v1/overview")["log_size"], 60, "the principals table")


def principals(page, reader, base):
    settle(reader)
    page.click("nav a[href='/ui/principals']")
    page.wait_for_selector("#principals tbody tr")
    api = reader.get("/v1/principals?sort=level&limit=50")
    ids = page.locator("#principals tbody tr").evaluate_all("rows => rows.map(r => r.dataset.principal)")
    check(ids == [p["principal"] for p in api["principals"]], "principals: the first page sorted by level, as the API lists it", (ids[:5], api["principals"][:2]))
    check(fmt_int(api["matched"]) in page.inner_text("#principals-summary"), f"principals: {api['matched']} matching shown")
    page.screenshot(path=str(OUT / "principals.png"))

    page.click("#more")
    wait_js(page, "document.querySelectorAll('#principals tbody tr').length > 50")
    api2 = reader.get(f"/v1/principals?sort=level&limit=50&cursor={urllib.parse.quote(api['next_cursor'])}")
    ids = page.locator("#principals tbody tr").evaluate_all("rows => rows.map(r => r.dataset.principal)")
    check(ids[50:] == [p["principal"] for p in api2["principals"]], "principals: More loads the next page with next_cursor")

    page.fill("#prefix", "otc:10")
    page.select_option("#sort", "id")  # submits the form
    page.wait_for_url(lambda u: u.endswith("/ui/principals?prefix=otc%3A10&sort=id"))
    wait_js(page, "[...document.querySelectorAll('#principals tbody tr')].every(r => r.dataset.principal.startsWith('otc:10'))")
    api = reader.get("/v1/principals?prefix=otc:10&sort=id&limit=50")
    ids = page.locator("#principals tbody tr").evaluate_all("rows => rows.map(r => r.dataset.principal)")
    check(ids == [p["principal"] for p in api["principals"]] and ids == sorted(ids), f"principals: search otc:10 sorted by id ({api['matched']} match)", ids[:5])
    check(fmt_int(api["matched"]) in page.inner_text("#principals-summary"), "principals: the count of matches")

    page.select_option("#sort", "rank")
    page.wait_for_url(lambda u: u.endswith("/ui/principals?prefix=otc%3A10&sort=rank"))
    api = reader.get("/v1/principals?prefix=otc:10&sort=rank&limit=50")
    wait_js(page, f"document.querySelector('#principals tbody tr') && document.querySelector('#principals tbody tr').dataset.principal === {json.dumps(api['principals'][0]['principal'])}")
    ids = page.locator("#principals tbody tr").evaluate_all("rows => rows.map(r => r.dataset.principal)")
    check(ids == [p["principal"] for p in api["principals"]], "principals: sorted by rank, as the API sorts")

    page.go_back()
    page.wait_for_url(lambda u: u.endswith("/ui/principals?prefix=otc%3A10&sort=id"))
    wait_js(page, "document.querySelector('#sort').value === 'id'")
    check(True, "principals: the back button returns to the previous search")


def principal(page, reader, agent, base):
    # The principal with the highest network rank: plenty of evidence and a real level.
    top = reader.get("/v1/rank?top=1")["principals"][0]["principal"]
    page.goto(f"{base}/ui/principals?sort=rank")
    page.wait_for_selector("#principals tbody tr")
    page.click(f"#principals tbody tr[data-principal='{top}'] a")
    page.wait_for_selector("#level")
    check(page.url.endswith(f"/ui/principals/{urllib.parse.quote(top)}"), f"principals: the row links to /ui/principals/{top}", page.url)
    x = reader.get(f"/v1/principals/{urllib.parse.quote(top)}/explain")
    check(page.get_attribute("#level", "data-level") == str(x["level"]["index"]) and x["level"]["name"] in page.inner_text("#level"),
          f"{top}: level {x['level']['index']} ({x['level']['name']}) as explain says")
    check(page.inner_text("#expected") == f"{x['expected']:.3f}", f"{top}: standing {x['expected']:.3f}")
    if x["next_step"]:
        items = page.locator("#next-step li")
        reqs = x["next_step"]["requirements"]
        check(items.count() == len(reqs) and [items.nth(i).get_attribute("data-met") for i in range(len(reqs))] == [str(r["met"]).lower() for r in reqs],
              f"{top}: the next-step checklist ({sum(r['met'] for r in reqs)} of {len(reqs)} met)")
    check(page.locator("#timeline tbody tr").count() == len(x["timeline"]) if x["timeline"] else "No promotion" in page.inner_text("#principal"),
          f"{top}: the timeline's {len(x['timeline'])} promotions and demotions")
    series = reader.get(f"/v1/principals/{urllib.parse.quote(top)}/series?points=200")
    page.wait_for_selector("#chart canvas")
    check(page.locator("#chart .u-legend").count() == 1 and len(series["points"]) >= 2, f"{top}: the chart of {len(series['points'])} points drawn (uPlot)")
    rank_row = reader.get(f"/v1/principals?prefix={urllib.parse.quote(top)}&sort=id&limit=1")["principals"][0]
    check(page.inner_text("#rank").startswith(f"{rank_row['rank']:.3e}".replace("e-0", "e-").replace("e+0", "e+")), f"{top}: network rank {rank_row['rank']:.3e}", page.inner_text("#rank"))
    cited = set(x["evidence"]) | set(reader.get(f"/v1/principals/{urllib.parse.quote(top)}/trust")["indexes"])
    links = page.locator("#evidence a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    check(links and all(l.startswith("/ui/log/") and int(l.rsplit("/", 1)[1]) in cited for l in links), f"{top}: {len(links)} evidence links to its log entries")
    page.screenshot(path=str(OUT / "principal.png"), full_page=True)

    x = reader.get("/v1/principals/user:climber/explain")
    page.goto(f"{base}/ui/principals/user:climber")
    page.wait_for_selector("#timeline tbody tr")
    rows = page.locator("#timeline tbody tr").all_inner_texts()
    check(len(rows) == len(x["timeline"]) == 2 and "0 newcomer → 1 contributor" in rows[1] and "1 contributor → 0 newcomer" in rows[0] and "broken promise" in rows[0],
          "user:climber: the timeline, newest first: promoted 0 → 1, demoted 1 → 0 for a broken promise", rows)
    cause = x["timeline"][-1]["cause"]["index"]
    check(page.locator(f"#timeline a[href='/ui/log/{cause}']").count() == 1, f"user:climber: the demotion links to its cause, entry {cause}")
    series = reader.get("/v1/principals/user:climber/series?points=200")
    page.wait_for_selector("#chart canvas")
    check(max(p["level"] for p in series["points"]) == 1, "user:climber: the chart's series reaches level 1")
    page.screenshot(path=str(OUT / "principal-climber.png"), full_page=True)

    v = reader.get("/v1/principals/otc:2/vouches")
    page.goto(f"{base}/ui/principals/otc:2")
    page.wait_for_selector("#vouches-received")
    check(any(r["voucher"] == "otc:1" for r in v["received"]) and "otc:1" in page.inner_text("#vouches-received"), "otc:2: the vouch it received from otc:1")
    page.goto(f"{base}/ui/principals/otc:1")
    page.wait_for_selector("#vouches-given")
    check("otc:2" in page.inner_text("#vouches-given"), "otc:1: the vouch it gave to otc:2")

    # Live: a rating of otc:1 appended while its page is open shows up without a reload.
    page.wait_for_selector("#live[data-live=on]")
    page.evaluate("window.__no_reload = true")
    ratings = int(page.get_attribute("#counts", "data-ratings"))
    t = reader.get("/v1/principals/otc:1/trust")["counts"]
    check(ratings == t["ratings_positive"] + t["ratings_negative"], f"otc:1: its {ratings} ratings counted as the API counts them")
    status, r = agent.post("/v1/events", {"kind": "rating", "at": iso(datetime.datetime.now(datetime.timezone.utc)), "rater": "agent:bot", "subject": "otc:1", "value": -0.5})
    check(status == 201, "a rating of otc:1 appended while its page is open", r)
    wait_js(page, f"document.querySelector('#counts').dataset.ratings === '{ratings + 1}'")
    check(page.evaluate("window.__no_reload === true") and "1 negative" in page.inner_text("#counts"), f"live: otc:1's page counts {ratings + 1} ratings, one negative, without a reload", page.inner_text("#counts"))


def entry(ctx, page, reader, base, console):
    key = reader.key
    size = int(reader.get("/v1/log/checkpoint").split("\n")[1])
    index = size // 3
    e = reader.get(f"/v1/events/{index}")
    page.goto(f"{base}/ui/log/{index}")
    page.wait_for_selector("#proof-summary[data-proof=verified], #proof-summary[data-proof=failed]")
    states = page.locator("#checks li").evaluate_all("ls => ls.map(l => [l.dataset.check, l.dataset.proof])")
    check(page.get_attribute("#proof-summary", "data-proof") == "verified" and sorted(states) == [[c, "verified"] for c in ["checkpoint", "inclusion", "leaf", "root"]],
          f"entry {index}: signature, leaf hash, audit path and root verified in the browser", (states, page.inner_text("#checks")))
    page.wait_for_selector("#consistency-result")
    check(page.get_attribute("#consistency-result", "data-proof") == "verified", f"entry {index}: consistency from size {index + 1} to {size} verified", page.inner_text("#consistency-result"))
    check(e["event"]["kind"] in page.inner_text("#event") and base64.b64decode(e["bytes"]).decode() == page.inner_text("#bytes-text"), f"entry {index}: the event and its canonical bytes shown")
    page.screenshot(path=str(OUT / "entry.png"), full_page=True)
    # Another earlier size: the checkpoint this browser verified just now is remembered.
    page.fill("#old-size", str(max(1, index // 2)))
    page.click("#consistency button[type=submit]")
    wait_js(page, f"document.querySelector('#consistency-result') && document.querySelector('#consistency-result').textContent.includes('{max(1, index // 2)} entries')")
    check(page.get_attribute("#consistency-result", "data-proof") == "verified", f"entry {index}: consistency from size {max(1, index // 2)} verified too")

    def flip_hex(h):
        return ("0" if h[0] != "0" else "1") + h[1:]

    def tampered(what, pattern, change, expect_failed):
        p = console.watch(ctx.new_page())

        def handler(route):
            resp = route.fetch()
            body = change(resp.text())
            route.fulfill(response=resp, body=body)

        p.route(pattern, handler)
        p.goto(f"{base}/ui/log/{index}#key={key}")
        p.wait_for_selector("#proof-summary[data-proof=verified], #proof-summary[data-proof=failed]")
        states = dict(p.locator("#checks li").evaluate_all("ls => ls.map(l => [l.dataset.check, l.dataset.proof])"))
        failed = sorted(k for k, v in states.items() if v == "failed")
        check(p.get_attribute("#proof-summary", "data-proof") == "failed" and set(expect_failed) <= set(failed),
              f"tampered {what}: data-proof=failed ({', '.join(failed)}), saying why", (states, p.inner_text("#proof-summary")))
        return p

    def flip_proof(text):
        j = json.loads(text)
        j["proof"][0] = flip_hex(j["proof"][0])
        return json.dumps(j)

    p = tampered("inclusion proof (one hash)", re.compile(r"/v1/log/proof/inclusion\?"), flip_proof, ["inclusion"])
    check("audit path" in p.inner_text("#checks li[data-check=inclusion]"), "the failed inclusion check says the audit path does not lead to the root")
    p.screenshot(path=str(OUT / "entry-tampered.png"), full_page=True)
    p.close()

    def flip_bytes(text):
        j = json.loads(text)
        raw = bytearray(base64.b64decode(j["bytes"]))
        raw[len(raw) // 2] ^= 0x01
        j["bytes"] = base64.b64encode(bytes(raw)).decode()
        return json.dumps(j)

    p = tampered("entry bytes (one bit)", re.compile(rf"/v1/events/{index}$"), flip_bytes, ["leaf", "inclusion"])
    p.close()

    def flip_signature(text):
        body, sig = text.split("\n\n", 1)
        prefix, blob = sig.rstrip("\n").rsplit(" ", 1)
        raw = bytearray(base64.b64decode(blob))
        raw[10] ^= 0x01  # inside the Ed25519 signature, after the 4-byte key id
        return body + "\n\n" + prefix + " " + base64.b64encode(bytes(raw)).decode() + "\n"

    p = tampered("checkpoint signature (one bit)", re.compile(r"/v1/log/checkpoint$"), flip_signature, ["checkpoint"])
    check("signature" in p.inner_text("#checks li[data-check=checkpoint]"), "the failed checkpoint check names the signature")
    p.close()

    def flip_root(text):
        lines = text.split("\n")
        raw = bytearray(base64.b64decode(lines[2]))
        raw[0] ^= 0x01
        lines[2] = base64.b64encode(bytes(raw)).decode()
        return "\n".join(lines)

    def other_key_id(text):
        j = json.loads(text)
        name, kid, key = j["verifier_key"].split("+", 2)
        j["verifier_key"] = f"{name}+{flip_hex(kid)}+{key}"
        return json.dumps(j)

    p = tampered("verifier key id (policy)", re.compile(r"/v1/policy$"), other_key_id, ["checkpoint"])
    check("key" in p.inner_text("#checks li[data-check=checkpoint]"), "the failed checkpoint check names the key", p.inner_text("#checks li[data-check=checkpoint]"))
    p.close()

    p = tampered("checkpoint root (signature kept)", re.compile(r"/v1/log/checkpoint$"), flip_root, ["checkpoint", "inclusion", "root"])
    p.close()

    p = console.watch(ctx.new_page())

    def flip_consistency(route):
        resp = route.fetch()
        j = resp.json()
        j["proof"][-1] = flip_hex(j["proof"][-1])
        route.fulfill(response=resp, body=json.dumps(j))

    p.route(re.compile(r"/v1/log/proof/consistency\?"), flip_consistency)
    p.goto(f"{base}/ui/log/{index}#key={key}")
    p.wait_for_selector("#consistency-result")
    check(p.get_attribute("#proof-summary", "data-proof") == "verified" and p.get_attribute("#consistency-result", "data-proof") == "failed",
          "tampered consistency proof: the consistency check fails, the entry's own checks still pass", p.inner_text("#consistency-result"))
    p.close()
    errors = console.take()
    check(not errors, "no console errors on the tampered pages", errors)


def ladder(page, reader, base):
    page.click("nav a[href='/ui/ladder']")
    page.wait_for_selector("#ladder tbody tr")
    policy = reader.get("/v1/policy")
    rows = page.locator("#ladder tbody tr")
    check(rows.count() == len(policy["ladder"]) and all(policy["ladder"][i]["name"] in rows.nth(i).inner_text() for i in range(rows.count())),
          f"ladder: its {len(policy['ladder'])} levels from the policy")
    top = reader.get("/v1/rank?top=1")["principals"][0]["principal"]
    capability = policy["ladder"][0]["capabilities"][0]
    for stake in ("1", "1000000"):
        page.fill("#subject", top)
        page.select_option("#capability", capability)
        page.fill("#stake", stake)
        page.click("#decide button[type=submit]")
        page.wait_for_selector("#verdict [data-allowed]")
        d = reader.post("/v1/decide", {"subject": top, "capability": capability, "stake": float(stake)})[1]
        shown = page.get_attribute("#verdict [data-allowed]", "data-allowed")
        codes = page.locator("#reasons li").evaluate_all("ls => ls.map(l => l.dataset.code)")
        check(shown == str(d["allowed"]).lower() and codes == [r["code"] for r in d["reasons"]],
              f"decide {top} {capability} at stake {stake}: {'allowed' if d['allowed'] else 'denied'} with reasons {codes}", (shown, codes, d["reasons"]))
        page.wait_for_timeout(100)
    page.screenshot(path=str(OUT / "ladder.png"), full_page=True)


def keyboard(page, base):
    page.goto(f"{base}/ui/")
    page.wait_for_selector("#log-size")
    target = None
    for _ in range(12):
        page.keyboard.press("Tab")
        target = page.evaluate("document.activeElement && document.activeElement.getAttribute('href')")
        if target == "/ui/principals":
            break
    check(target == "/ui/principals", "keyboard: Tab reaches the Principals link")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    check(outline not in ("none", ""), f"keyboard: the focused link shows its focus ({outline} outline)")
    page.keyboard.press("Enter")
    page.wait_for_selector("#principals tbody tr")
    check(page.url.endswith("/ui/principals"), "keyboard: Enter on the link opens the principals view")
    # The search form by keyboard alone.
    page.focus("#prefix")
    page.keyboard.type("otc:7")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda u: "/ui/principals?prefix=otc%3A7" in u)
    wait_js(page, "[...document.querySelectorAll('#principals tbody tr')].every(r => r.dataset.principal.startsWith('otc:7'))")
    check(True, "keyboard: typing a prefix and Enter searches")


def reconnect(ctx, base, key, console):
    """The live stream fails twice, then connects: the page retries, waiting longer each time."""
    page = console.watch(ctx.new_page())
    attempts = []

    def handler(route):
        attempts.append(time.monotonic())
        if len(attempts) <= 2:
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(r"/v1/stream$"), handler)
    page.goto(f"{base}/ui/#key={key}")
    page.wait_for_selector("#live[data-live=reconnecting]")
    page.wait_for_selector("#live[data-live=on]")
    gaps = [round(b - a, 2) for a, b in zip(attempts, attempts[1:])]
    check(len(attempts) == 3 and gaps[0] >= 0.9 and gaps[1] >= gaps[0] + 0.5, f"live: two failed connections, retried after {gaps[0]} s then {gaps[1]} s, then live", gaps)
    errors = console.take()
    check(errors and all("ERR_FAILED" in e[1] for e in errors), "the only console messages are the browser's notes of the two failed connections", errors)
    page.close()


def review(ctx, base, keys, reader, console):
    page = console.watch(ctx.new_page())
    page.goto(f"{base}/ui/review#key={keys['reviewer']}")
    page.wait_for_selector("#review tbody tr")
    queue = reader.get("/v1/promises?open=true&promisee=user:reviewer")["promises"]
    ids = page.locator("#review tbody tr").evaluate_all("rows => rows.map(r => r.dataset.promise)")
    check(ids == [p["id"] for p in queue] and "ui-kept" in ids, f"review: the reviewer's {len(ids)} open promises, oldest first", ids)
    page.screenshot(path=str(OUT / "review.png"), full_page=True)

    def standing():
        return reader.get("/v1/principals/agent:bot/explain")["expected"]

    before = standing()
    page.click("#review tr[data-promise='ui-kept'] button[data-result=kept]")
    page.wait_for_selector("#review-result[data-promise='ui-kept']")
    after = standing()
    text = page.inner_text("#review-result")
    check(after > before and f"{before:.3f}" in page.inner_text("#review-result .standing-before") and f"{after:.3f}" in page.inner_text("#review-result .standing-after"),
          f"review: 'kept' recorded, agent:bot's standing shown rising {before:.3f} → {after:.3f}", text)
    wait_js(page, "!document.querySelector(\"#review tr[data-promise='ui-kept']\")")
    check(all(p["id"] != "ui-kept" for p in reader.get("/v1/promises?open=true&promisee=user:reviewer")["promises"]), "review: the judged promise left the queue (API and page)")

    before = after
    page.click("#review tr[data-promise='ui-broken'] button[data-result=broken]")
    page.wait_for_selector("#review-result[data-promise='ui-broken']")
    after = standing()
    check(after < before, f"review: 'broken' recorded, standing falls {before:.3f} → {after:.3f}", page.inner_text("#review-result"))

    page.fill("#review tr[data-promise='ui-late'] input.fraction", "0.25")
    page.click("#review tr[data-promise='ui-late'] button[data-result=partial]")
    page.wait_for_selector("#review-result[data-promise='ui-late']")
    e = reader.get(f"/v1/events/{int(page.locator('#review-result a').get_attribute('href').rsplit('/', 1)[1])}")["event"]
    check(e["kind"] == "outcome" and e["result"] == "partial" and e["fraction"] == 0.25 and e["author"] == "user:reviewer", "review: 'partial' 0.25 recorded in the reviewer's name", e)
    errors = console.take()
    check(not errors, "no console errors on the review page", errors)
    page.close()

    # A reader key of the same principal: the queue shows, the API refuses the outcome, the page says so.
    page = console.watch(ctx.new_page())
    page.goto(f"{base}/ui/review#key={keys['reader-reviewer']}")
    page.wait_for_selector("#review tr[data-promise='ui-refused']")
    page.click("#review tr[data-promise='ui-refused'] button[data-result=kept]")
    msg = page.wait_for_selector("#review-error").inner_text()
    check("403" in msg and "forbidden" in msg, "review with a reader key: the API's refusal shown in words", msg)
    check(any(p["id"] == "ui-refused" for p in reader.get("/v1/promises?open=true&promisee=user:reviewer")["promises"]), "review: the refused outcome was not recorded")
    errors = console.take()
    check(all("403" in e[1] for e in errors), "the only console message is the browser's note of the 403", errors)
    page.close()


def phone(browser, base, keys, console):
    ctx = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True, has_touch=True)
    ctx.set_default_timeout(TIMEOUT)
    page = console.watch(ctx.new_page())
    page.goto(f"{base}/ui/#key={keys['reader']}")
    top = None
    views = [("/ui/", "#log-size"), ("/ui/principals", "#principals tbody tr"), (None, "#level"), ("/ui/log/5", "#proof-summary[data-proof=verified]"), ("/ui/ladder", "#ladder"), ("/ui/review", "h1"), ("/ui/receipt", "#receipt-drop")]
    for path, ready in views:
        if path is None:
            top = top or page.evaluate("fetch('/v1/rank?top=1', {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('stepwise.key')}}).then(r => r.json()).then(j => j.principals[0].principal)")
            path = f"/ui/principals/{top}"
        if path != "/ui/":
            page.goto(base + path)
        page.wait_for_selector(ready)
        if path == "/ui/":
            page.screenshot(path=str(OUT / "overview-phone.png"), full_page=True)
        if path.startswith("/ui/principals/"):
            page.screenshot(path=str(OUT / "principal-phone.png"), full_page=True)
        wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        check(wide[0] <= wide[1], f"phone width: {path} has no horizontal overflow ({wide[0]} ≤ {wide[1]} px)")
    errors = console.take()
    check(not errors, "no console errors at phone width", errors)
    ctx.close()


if __name__ == "__main__":
    main()
