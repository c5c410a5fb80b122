"""How soon a write acknowledged by one `stepwise serve` is folded by the others on one
PostgreSQL database, under a steady write load.

Usage: python3 tests/cluster/bench.py path/to/stepwise [writes per second] [seconds]
       [--follow-ms MS]
(run by scripts/cluster-bench, which makes the database). Three servers share a fresh database;
a writer records promises through server A at a steady rate; for every acknowledged write
(index i), a reader on each of servers B and C asks at once for the open promises with
`min_log_size=i+1`, which a server answers as soon as it has folded entry i. The time from the
acknowledgement to that answer is the fold delay seen by a client (it includes one HTTP round
trip, measured alone too). Prints the medians, p99 and maxima as JSON.

`--follow-ms` is the servers' polling interval: 60000 (default) leaves only NOTIFY to wake
them; a short one with NOTIFY off is not possible from here (the store always announces).
"""

import http.client
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
BIN = ARGS[0]
RATE = float(ARGS[1]) if len(ARGS) > 1 else 100.0
SECONDS = float(ARGS[2]) if len(ARGS) > 2 else 20.0
FOLLOW_MS = "60000"
if "--follow-ms" in sys.argv:
    FOLLOW_MS = sys.argv[sys.argv.index("--follow-ms") + 1]
ADMIN = os.environ.get("STEPWISE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")


def psql(sql):
    subprocess.run(["psql", "-q", "-w", ADMIN, "-c", sql], check=True, stdout=subprocess.DEVNULL)


def stepwise(data, *args):
    return subprocess.run([BIN, "--data", data, *args], check=True, capture_output=True, text=True).stdout


def key(data, url, role, principal=None):
    args = ["key", "create", "--role", role, "--store", url, "--json"]
    if principal:
        args += ["--principal", principal]
    return json.loads(stepwise(data, *args))["key"]


def database(prefix):
    """A fresh database on the test server: its name and URL."""
    name = f"{prefix}_{os.getpid()}"
    psql(f"CREATE DATABASE {name}")
    return name, ADMIN.rsplit("/", 1)[0] + "/" + name


def prepare(data, url):
    """A data directory for the servers of `url`, and the keys of Ann (a recorder) and a reader."""
    stepwise(data, "init")
    return key(data, url, "recorder", "user:ann"), key(data, url, "reader")


def start(data, url):
    p = subprocess.Popen(
        [BIN, "--data", data, "serve", "--addr", "127.0.0.1:0", "--store", url,
         "--follow-ms", FOLLOW_MS, "--rate", "1e9", "--burst", "1e9"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    host, port = line.split("http://")[1].split()[0].rsplit(":", 1)
    return p, (host, int(port))


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, addr, key):
        self.c = http.client.HTTPConnection(*addr, timeout=30)
        self.h = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def ask(self, method, path, body=None):
        self.c.request(method, path, body=body, headers=self.h)
        r = self.c.getresponse()
        data = r.read()
        return r.status, data


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def summary(xs):
    ms = [x * 1000 for x in xs]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 3),
            "p99_ms": round(quantile(ms, 0.99), 3), "max_ms": round(max(ms), 3)}


def main():
    name, url = database("stepwise_cluster_bench")
    servers = []
    try:
        with tempfile.TemporaryDirectory() as dir:
            data = os.path.join(dir, "data")
            ann, reader = prepare(data, url)
            servers = [start(data, url) for _ in range(3)]
            (_, a), (_, b), (_, c) = servers
            result = run(a, [b, c], ann, reader)
            result.update({"rate": RATE, "seconds": SECONDS, "follow_ms": int(FOLLOW_MS)})
            print(json.dumps(result))
    finally:
        for p, _ in servers:
            p.kill()
            p.wait()
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(writer_addr, reader_addrs, ann, reader):
    acks = [queue.Queue() for _ in reader_addrs]
    delays = [[] for _ in reader_addrs]
    round_trips = []

    def read(n, addr):
        conn = Conn(addr, reader)
        while True:
            item = acks[n].get()
            if item is None:
                return
            index, acked = item
            status, body = conn.ask("GET", f"/v1/promises?open=true&limit=1&min_log_size={index + 1}")
            assert status == 200, body
            delays[n].append(time.perf_counter() - acked)

    readers = [threading.Thread(target=read, args=(n, addr)) for n, addr in enumerate(reader_addrs)]
    for t in readers:
        t.start()
    conn = Conn(writer_addr, ann)
    now = datetime.now(timezone.utc)
    due = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < SECONDS:
        next_at = start + n / RATE
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        body = json.dumps({"kind": "promise", "at": at, "id": f"bench-{n}", "promisor": "user:ann",
                           "promisee": "user:bob", "scope": "bench", "stake": 1, "due": due})
        status, reply = conn.ask("POST", "/v1/events", body)
        assert status == 201, reply
        acked = time.perf_counter()
        index = json.loads(reply)["results"][0]["index"]
        for q in acks:
            q.put((index, acked))
        n += 1
    for q in acks:
        q.put(None)
    for t in readers:
        t.join()
    # One HTTP round trip of the same read, on a server that has every entry: the floor.
    probe = Conn(reader_addrs[0], reader)
    for _ in range(200):
        t = time.perf_counter()
        probe.ask("GET", "/v1/promises?open=true&limit=1&min_log_size=1")
        round_trips.append(time.perf_counter() - t)
    everything = [d for ds in delays for d in ds]
    return {"writes": n, "fold_delay": summary(everything),
            "per_server": [summary(ds) for ds in delays], "round_trip": summary(round_trips)}


if __name__ == "__main__":
    main()
