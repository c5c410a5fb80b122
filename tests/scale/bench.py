"""stepwise at a scale of N events: a generated log imported, served and measured.

Usage: python3 tests/scale/bench.py path/to/stepwise N [--work DIR] [--seed S] [--keep]
       [--load path/to/load]
(run by scripts/scale-bench). One run, every figure of docs/BENCHMARKS.md's "Scale" table:

* `stepwise generate --events N | stepwise import - --history`: wall time, events/s (durable:
  every batch committed and synced), the import's peak RSS;
* bytes on disk per entry (the data directory, after the import);
* `stepwise log verify`: wall time and peak RSS;
* `stepwise serve`: start-up (open, fold, rank, principals table: until it listens), RSS and
  peak RSS after start-up, per event and per pair (`stepwise_pairs`);
* the rank and principals-table refresh times (`/metrics`, after 2,000 appended ratings);
* an inclusion proof over HTTP (200 random entries; a `/healthz` round trip in the same run);
* with `--load`, the load example's mixed phase on the same data directory, alone and while
  one client appends: decide p50/p99 on one connection; then decide and trust p50/p99 with one
  connection each.

Prints one JSON object. The data directory is removed unless `--keep`.
"""

import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

ARGS = [a for a in sys.argv[1:]]


def option(name, default=None):
    if name in ARGS:
        i = ARGS.index(name)
        value = ARGS[i + 1]
        del ARGS[i:i + 2]
        return value
    return default


WORK = option("--work", "/tmp")
SEED = option("--seed", "1")
LOAD = option("--load")
KEEP = "--keep" in ARGS
if KEEP:
    ARGS.remove("--keep")
BIN, N = ARGS[0], int(ARGS[1])
DATA = os.path.join(WORK, f"stepwise-scale-{N}")


def timed(cmd, **kw):
    """Runs `cmd` under /usr/bin/time; (wall seconds, peak RSS bytes, stdout)."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, **kw)
    wall = time.perf_counter() - t
    if p.returncode not in (0, 1):
        raise SystemExit(f"{cmd}: exit {p.returncode}: {p.stderr[-2000:]}")
    peak_kib = int(p.stderr.strip().splitlines()[-1])
    return wall, peak_kib * 1024, p.stdout


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def get(url, key=None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def metric(text, name):
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def histogram_mean(text, name):
    total, count = metric(text, f"{name}_sum"), metric(text, f"{name}_count")
    return total / count if total is not None and count else None


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    shutil.rmtree(DATA, ignore_errors=True)
    subprocess.run([BIN, "--data", DATA, "init"], check=True, capture_output=True)
    out = {"events": N, "seed": int(SEED), "machine": machine(), "started": now()}

    # Generate straight into import: no intermediate file.
    t = time.perf_counter()
    gen = subprocess.Popen([BIN, "generate", "--events", str(N), "--seed", SEED], stdout=subprocess.PIPE)
    wall, peak, stdout = timed([BIN, "--data", DATA, "import", "-", "--history", "--json", "--batch", "10000"],
                               stdin=gen.stdout)
    gen.stdout.close()
    gen.wait()
    report = json.loads(stdout)
    out["import"] = {"recorded": report["recorded"], "rejected": len(report["rejected"]),
                     "seconds": round(wall, 2), "events_per_s": round(report["recorded"] / wall),
                     "peak_rss_mib": round(peak / 2**20, 1)}
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(DATA) for f in fs)
    out["disk"] = {"bytes": size, "bytes_per_entry": round(size / report["size"], 1)}

    wall, peak, _ = timed([BIN, "--data", DATA, "log", "verify", "--json"])
    out["log_verify"] = {"seconds": round(wall, 2), "peak_rss_mib": round(peak / 2**20, 1)}

    reader = key("reader")
    recorder = key("recorder", "scale:recorder")
    out["serve"] = serve(reader, recorder, report["size"])
    if LOAD:
        out["decide"] = load()
    print(json.dumps(out, indent=1))
    if not KEEP:
        shutil.rmtree(DATA, ignore_errors=True)


def key(role, principal=None):
    args = [BIN, "--data", DATA, "key", "create", "--role", role, "--json"]
    if principal:
        args += ["--principal", principal]
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)["key"]


def serve(reader, recorder, log_size):
    t = time.perf_counter()
    p = subprocess.Popen([BIN, "--data", DATA, "serve", "--addr", "127.0.0.1:0", "--rate", "1e9", "--burst", "1e9"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = p.stdout.readline()
        started = time.perf_counter() - t
        api = "http://" + line.split("http://")[1].split()[0]
        mem = status(p.pid)
        text = get(f"{api}/metrics").decode()
        pairs = metric(text, "stepwise_pairs")
        principals = metric(text, "stepwise_principals")
        result = {"start_up_s": round(started, 2), "rss_mib": round(mem["VmRSS"] / 2**20, 1),
                  "peak_rss_mib": round(mem["VmHWM"] / 2**20, 1), "principals": principals, "pairs": pairs,
                  "rss_bytes_per_event": round(mem["VmRSS"] / log_size, 1),
                  "rss_bytes_per_pair": round(mem["VmRSS"] / pairs, 1) if pairs else None}
        # Appends, so that the rank and the table are refreshed while measured.
        ids = [f"gen:{i}" for i in range(50)]
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for i in range(20):
            events = [{"kind": "rating", "at": at, "rater": "scale:recorder", "subject": random.choice(ids),
                       "value": 1} for _ in range(100)]
            req = urllib.request.Request(f"{api}/v1/events", data=json.dumps(events).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {recorder}",
                                                  "Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=60).read()
        time.sleep(5)
        text = get(f"{api}/metrics").decode()
        result["rank_refresh_s"] = histogram_mean(text, "stepwise_rank_refresh_duration_seconds")
        result["rank_refreshes"] = metric(text, "stepwise_rank_refreshes_total")
        result["table_refresh_s"] = histogram_mean(text, "stepwise_table_refresh_duration_seconds")
        result["table_refreshes"] = metric(text, "stepwise_table_refreshes_total")
        proofs, floor = [], []
        for _ in range(200):
            i = random.randrange(log_size)
            s = time.perf_counter()
            get(f"{api}/v1/log/proof/inclusion?index={i}&size={log_size}", reader)
            proofs.append(time.perf_counter() - s)
            s = time.perf_counter()
            get(f"{api}/healthz")
            floor.append(time.perf_counter() - s)
        result["inclusion_proof_ms"] = {"p50": round(statistics.median(proofs) * 1e3, 3),
                                        "p99": round(quantile(proofs, 0.99) * 1e3, 3),
                                        "healthz_p50": round(statistics.median(floor) * 1e3, 3)}
        result["rss_after_mib"] = round(status(p.pid)["VmRSS"] / 2**20, 1)
        return result
    finally:
        p.kill()
        p.wait()


def load():
    """The mixed phase twice: one connection deciding (the issue's decide targets: quiet, and
    while one client appends), then one asking for trust beside one deciding."""
    return {"decide_only": mixed(["--connections", "1", "--trust-connections", "0"], ("decide",)),
            "decide_and_trust": mixed(["--connections", "2"], ("decide", "trust"))}


def mixed(connections, kinds):
    cmd = [LOAD, "--bin", BIN, "--data", DATA, "--phases", "mixed", *connections, "--writers", "1",
           "--rounds", "3", "--seconds", "5", "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": p.stderr[-2000:]}
    result = json.loads(p.stdout)["mixed"]
    brief = {k: {when: {"p50_us": round(result[k][when]["p50_us"]), "p99_us": round(result[k][when]["p99_us"])}
                 for when in ("alone", "mixed")} for k in kinds}
    for k in kinds:
        brief[f"p99_ratio_{k}"] = result[f"p99_ratio_{k}"]
    brief["append_ratio"] = result["append_ratio"]
    return brief


def machine():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    return {"cpu": model, "cores": os.cpu_count(), "mem_gib": round(mem / 2**20, 1),
            "load_average": os.getloadavg()}


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


if __name__ == "__main__":
    main()
