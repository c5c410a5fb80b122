"""A soak of three `stepwise serve` processes on one PostgreSQL database, with faults.

Usage: python3 tests/cluster/soak.py path/to/stepwise [minutes] [writes per second]
       [--pg-restart "COMMAND"]
(run by scripts/cluster-soak; SOAK_FASTER=10 brings every fault ten times as often). For MINUTES (default 30), one writer per server records promises
at a steady total rate, each write retried with the same id until its fate is known (201, or
422 saying the id is taken: the first try was recorded); a reader per server asks every half
second for the latest acknowledged write with `min_log_size`. Faults, in turn: every 2 minutes
one server is killed with SIGKILL and started again 5 s later; every 5 minutes PostgreSQL itself
is restarted (`--pg-restart`, default `pg_ctlcluster <version> main restart`); every 7 minutes a
server's connections are cut (`pg_terminate_backend`), as a partition would. At the end: every
acknowledged write is in the log at the index it was given, on every server; the three
checkpoints agree; `stepwise log verify --store` passes. Prints the counts and the read
latencies as JSON; exits 1 if anything acknowledged was lost or the log does not verify.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Conn, database, prepare, psql, quantile  # noqa: E402

ARGS = [a for a in sys.argv[1:]]
PG_RESTART = None
if "--pg-restart" in ARGS:
    i = ARGS.index("--pg-restart")
    PG_RESTART = ARGS[i + 1]
    del ARGS[i:i + 2]
BIN = ARGS[0]
MINUTES = float(ARGS[1]) if len(ARGS) > 1 else 30.0
RATE = float(ARGS[2]) if len(ARGS) > 2 else 60.0
# Faults come this many times as often (a quick rehearsal of the soak: SOAK_FASTER=10).
FASTER = float(os.environ.get("SOAK_FASTER", "1"))
if PG_RESTART is None:
    version = sorted(os.listdir("/etc/postgresql"))[-1] if os.path.isdir("/etc/postgresql") else "15"
    PG_RESTART = f"pg_ctlcluster {version} main restart"


class Node:
    """One server, restartable on the same data directory and database."""

    def __init__(self, n, data, url):
        self.n, self.data, self.url = n, data, url
        self.lock = threading.Lock()
        self.start()

    def start(self):
        p = subprocess.Popen(
            [BIN, "--data", self.data, "serve", "--addr", "127.0.0.1:0", "--store", self.url,
             "--rate", "1e9", "--burst", "1e9"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = p.stdout.readline()
        host, port = line.split("http://")[1].split()[0].rsplit(":", 1)
        with self.lock:
            self.proc, self.addr = p, (host, int(port))

    def kill(self):
        with self.lock:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.addr = None


def attempt(node, key, method, path, body=None):
    """One request on a fresh connection; (status, body) or (None, error) when it failed."""
    addr = node.addr
    if addr is None:
        return None, "down"
    try:
        c = Conn(addr, key)
        return c.ask(method, path, body)
    except OSError as e:
        return None, str(e)


def main():
    name, url = database("stepwise_soak")
    nodes = []
    stop = threading.Event()
    acked, unknown, reads, faults = {}, [0], [], []
    try:
        with tempfile.TemporaryDirectory() as dir:
            data = os.path.join(dir, "data")
            ann, reader = prepare(data, url)
            nodes = [Node(n, data, url) for n in range(3)]
            lock = threading.Lock()

            def write(node):
                n, due = 0, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400 * 30))
                while not stop.is_set():
                    pid = f"soak-{node.n}-{n}"
                    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    body = json.dumps({"kind": "promise", "at": at, "id": pid, "promisor": "user:ann",
                                       "promisee": "user:bob", "scope": "soak", "stake": 1, "due": due})
                    while not stop.is_set():
                        status, reply = attempt(node, ann, "POST", "/v1/events", body)
                        if status == 201:
                            with lock:
                                acked[pid] = json.loads(reply)["results"][0]["index"]
                            break
                        if status == 422 and b"already" in reply:
                            # The first try was recorded; its index is found at the end.
                            with lock:
                                acked[pid] = None
                            break
                        with lock:
                            unknown[0] += 1
                        time.sleep(0.2)
                    n += 1
                    time.sleep(3 / RATE)

            def read(node):
                while not stop.is_set():
                    time.sleep(0.5)
                    with lock:
                        latest = max((i for i in acked.values() if i is not None), default=0)
                    t = time.perf_counter()
                    status, _ = attempt(node, reader, "GET", f"/v1/promises?open=true&limit=1&min_log_size={latest + 1}")
                    if status == 200:
                        reads.append(time.perf_counter() - t)

            threads = [threading.Thread(target=f, args=(node,)) for node in nodes for f in (write, read)]
            for t in threads:
                t.start()
            began = time.time()
            every = {"kill": 120 / FASTER, "pg": 300 / FASTER, "cut": 420 / FASTER}
            next_kill, next_pg, next_cut, victim = every["kill"], every["pg"], every["cut"], 0
            while time.time() - began < MINUTES * 60:
                time.sleep(1)
                elapsed = time.time() - began
                if elapsed >= next_kill:
                    node = nodes[victim % 3]
                    node.kill()
                    time.sleep(5)
                    node.start()
                    faults.append({"at_s": round(elapsed), "fault": f"SIGKILL server {node.n}, restarted"})
                    victim += 1
                    next_kill += every["kill"]
                if elapsed >= next_pg:
                    r = subprocess.run(PG_RESTART, shell=True, capture_output=True, text=True)
                    faults.append({"at_s": round(elapsed), "fault": "PostgreSQL restarted", "ok": r.returncode == 0})
                    next_pg += every["pg"]
                if elapsed >= next_cut:
                    psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
                         f"AND pid <> pg_backend_pid()")
                    faults.append({"at_s": round(elapsed), "fault": "every connection cut"})
                    next_cut += every["cut"]
            stop.set()
            for t in threads:
                t.join()
            print(json.dumps(check(nodes, reader, url, data, acked, unknown[0], reads, faults), indent=1))
    finally:
        for node in nodes:
            if node.addr is not None:
                node.kill()
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def check(nodes, reader, url, data, acked, retries, reads, faults):
    """Every acknowledged write where it was said to be, on every server; one checkpoint; the
    log verifies."""
    latest = max(i for i in acked.values() if i is not None)
    lost, misplaced = [], []
    for node in nodes:
        c = Conn(node.addr, reader)
        status, body = c.ask("GET", f"/v1/log/checkpoint?min_log_size={latest + 1}")
        assert status == 200, body
    checkpoints = {Conn(n.addr, reader).ask("GET", "/v1/log/checkpoint")[1] for n in nodes}
    found = {}
    c = Conn(nodes[0].addr, reader)
    size = int(c.ask("GET", "/v1/log/checkpoint")[1].split(b"\n")[1])
    for index in range(size):
        status, body = c.ask("GET", f"/v1/events/{index}")
        if status == 200:
            event = json.loads(body)["event"]
            if event.get("kind") == "promise" and str(event.get("id", "")).startswith("soak-"):
                found[event["id"]] = index
    for pid, index in acked.items():
        if pid not in found:
            lost.append(pid)
        elif index is not None and found[pid] != index:
            misplaced.append(pid)
    verify = subprocess.run([BIN, "--data", data, "log", "verify", "--store", url, "--json"],
                            capture_output=True, text=True)
    report = json.loads(verify.stdout) if verify.stdout else {"ok": False, "error": verify.stderr}
    ms = sorted(r * 1000 for r in reads)
    result = {"minutes": MINUTES, "rate": RATE, "acknowledged": len(acked), "log_size": size,
              "retries": retries, "lost": lost, "misplaced": misplaced,
              "checkpoints_agree": len(checkpoints) == 1, "log_verify_ok": report.get("ok"),
              "reads": {"n": len(ms), "p50_ms": round(ms[len(ms) // 2], 3), "p99_ms": round(quantile(ms, 0.99), 3)},
              "faults": faults}
    if not report.get("ok"):
        result["verify"] = report
    if lost or misplaced or not report.get("ok") or len(checkpoints) != 1:
        result["FAILED"] = True
    return result


if __name__ == "__main__":
    main()
    