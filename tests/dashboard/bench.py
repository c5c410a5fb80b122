"""What the dashboard's two heaviest reads cost at scale (the figures of docs/BENCHMARKS.md).

Loads Epinions (131,828 principals, 841,372 signed ratings) into a fresh data directory, adds
one principal with 1,000 ratings spread over a year, starts `stepwise serve` and times, over one
keep-alive connection, `GET /v1/principals` (first pages in each order, a prefix search sorted by
trust, a page after a cursor) and `GET /v1/principals/{id}/series?points=200` for that principal.
Each figure is the median of ROUNDS requests, reported beside its limit in the same run (the
issue's 50 ms and 100 ms), and `GET /healthz` as the floor of any request.

Usage: python3 tests/dashboard/bench.py path/to/stepwise [rounds]
"""

import datetime
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EPINIONS = os.path.join(ROOT, "..", "shared", "data", "soc-sign-epinions.txt.gz")


def run(args, **kw):
    return subprocess.run(args, check=False, capture_output=True, text=True, **kw)


def main():
    binary = os.path.abspath(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        started = time.monotonic()
        loaded = run([binary, "import", EPINIONS, "--format", "snap-signed",
                      "--at", "2020-01-01T00:00:00Z", "--id-prefix", "ep:", "--history",
                      "--batch", "10000", "--data", data])
        # Exit 1: its self-ratings are refused by line number, as the README says.
        if loaded.returncode not in (0, 1) or "recorded" not in loaded.stdout:
            sys.exit(f"import failed: {loaded.stdout}{loaded.stderr}")
        recorded = next(l for l in loaded.stdout.splitlines() if l.startswith("recorded"))
        print(f"epinions: {recorded} ({time.monotonic() - started:.1f} s)")
        # One principal with 1,000 events: ratings by 1,000 Epinions users, one every ~9 h.
        now = datetime.datetime.now(datetime.timezone.utc)
        lines = []
        for i in range(1000):
            at = now - datetime.timedelta(days=365) + datetime.timedelta(hours=8.76 * i)
            lines.append(json.dumps({
                "kind": "rating", "at": at.isoformat().replace("+00:00", "Z"),
                "rater": f"ep:{i}", "subject": "bench:subject",
                "value": 1 if i % 7 else -1}))
        events = os.path.join(tmp, "subject.jsonl")
        with open(events, "w") as f:
            f.write("\n".join(lines) + "\n")
        added = run([binary, "import", events, "--history", "--data", data])
        if added.returncode != 0:
            sys.exit(f"import failed: {added.stdout}{added.stderr}")
        key = json.loads(run([binary, "key", "create", "--role", "reader", "--json",
                              "--data", data]).stdout)["key"]
        recorder = json.loads(run([binary, "key", "create", "--role", "recorder", "--principal",
                                   "bench:rater", "--json", "--data", data]).stdout)["key"]
        started = time.monotonic()
        server = subprocess.Popen([binary, "serve", "--addr", "127.0.0.1:0", "--data", data,
                                   "--rate", "100000", "--burst", "100000"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
            if "listening on http://" not in line:
                sys.exit(f"serve did not start: {line}{server.stderr.read()}")
            address = line.split("http://")[1].split()[0]
            print(f"serve: ready in {time.monotonic() - started:.1f} s "
                  f"(folds the log, computes the rank and the table)")
            host, port = address.rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port))
            headers = {"Authorization": f"Bearer {key}"}

            def get(path):
                conn.request("GET", path, headers=headers)
                reply = conn.getresponse()
                body = reply.read()
                if reply.status != 200:
                    sys.exit(f"GET {path}: {reply.status} {body[:300]!r}")
                return json.loads(body) if path != "/healthz" else body

            first = get("/v1/principals?limit=50")
            print(f"table: {first['total']} principals, log size {first['log_size']}")
            cursor = get("/v1/principals?sort=rank&limit=50")["next_cursor"]
            series = get("/v1/principals/bench:subject/series?points=200")
            assert len(series["points"]) == 200, series
            assert sum(p["events"] for p in series["points"]) == 1000, "1,000 events charted"
            cases = [
                ("GET /healthz (floor)", "/healthz", None),
                ("principals sort=id, first page", "/v1/principals?sort=id&limit=50", 50),
                ("principals sort=level, first page", "/v1/principals?sort=level&limit=50", 50),
                ("principals sort=trust, first page", "/v1/principals?sort=trust&limit=50", 50),
                ("principals sort=rank, after a cursor",
                 f"/v1/principals?sort=rank&limit=50&cursor={cursor.replace(':', '%3A')}", 50),
                ("principals prefix=ep:1 sort=id", "/v1/principals?prefix=ep:1&sort=id&limit=50", 50),
                ("principals prefix=ep:1 sort=trust (walks the order)",
                 "/v1/principals?prefix=ep:1&sort=trust&limit=50", 50),
                ("principals prefix=ep:99999 sort=level (walks all of it)",
                 "/v1/principals?prefix=ep:99999&sort=level&limit=50", 50),
                ("series, 1,000 events at 200 points",
                 "/v1/principals/bench:subject/series?points=200", 100),
            ]
            print(f"{'request':58} {'median ms':>9} {'p95 ms':>7} {'limit':>6} {'ratio':>6}")
            for name, path, limit in cases:
                times = []
                for _ in range(rounds):
                    t = time.perf_counter()
                    get(path)
                    times.append((time.perf_counter() - t) * 1000)
                times.sort()
                median = statistics.median(times)
                p95 = times[int(len(times) * 0.95) - 1]
                ratio = f"{median / limit:.3f}" if limit else "-"
                print(f"{name:58} {median:9.3f} {p95:7.3f} {limit or '-':>6} {ratio:>6}")
            # How long after an append the table reflects it (its recomputation at this scale).
            lags = []
            for i in range(7):
                event = json.dumps({"kind": "rating", "at": datetime.datetime.now(
                    datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
                    "rater": "bench:rater", "subject": f"ep:{i}", "value": 1})
                conn.request("POST", "/v1/events", body=event,
                             headers={"Authorization": f"Bearer {recorder}",
                                      "Content-Type": "application/json"})
                reply = conn.getresponse()
                size = json.loads(reply.read())["results"][0]["index"] + 1
                t = time.perf_counter()
                while get("/v1/principals?limit=1")["log_size"] < size:
                    time.sleep(0.005)
                lags.append((time.perf_counter() - t) * 1000)
                time.sleep(1.5)
            print(f"table caught up after an append: median {statistics.median(lags):.0f} ms "
                  f"(range {min(lags):.0f}-{max(lags):.0f} ms over {len(lags)} appends)")
            with open(f"/proc/{server.pid}/status") as f:
                rss = next(l for l in f if l.startswith("VmRSS")).split()[1]
            print(f"serve: VmRSS {int(rss) / 1024:.0f} MiB")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
