"""Trust figures of the most ranked principals, one at a time, over one keep-alive connection.

Usage: python3 tests/scale/trust_probe.py PORT KEY_FILE [N]

Asks `GET /v1/rank?top=N` (default 200) of the server on 127.0.0.1:PORT with the reader key in
KEY_FILE, then `GET /v1/principals/{id}/trust` for each of those principals, three times over,
and prints one JSON object: the median, 90th percentile and largest of each principal's
fastest answer (milliseconds, the round trip included). The most ranked principals are the
most vouched for and rated, so these are a server's slowest trust figures.
"""

import http.client
import json
import sys
import time


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    port, key = int(sys.argv[1]), open(sys.argv[2]).read().strip()
    n = int(sys.argv[3]) if len(sys.argv) == 4 else 200
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": "Bearer " + key}

    def get(path):
        conn.request("GET", path, headers=headers)
        reply = conn.getresponse()
        body = reply.read()
        if reply.status != 200:
            sys.exit(f"GET {path}: {reply.status} {body[:200]!r}")
        return body

    top = [row["principal"] for row in json.loads(get(f"/v1/rank?top={n}"))["principals"]]
    fastest = {}
    for _ in range(3):
        for who in top:
            started = time.perf_counter()
            get(f"/v1/principals/{who}/trust")
            took = time.perf_counter() - started
            fastest[who] = min(took, fastest.get(who, took))
    ms = sorted(t * 1e3 for t in fastest.values())
    print(json.dumps({"principals": len(ms), "p50_ms": round(ms[len(ms) // 2], 2),
                      "p90_ms": round(ms[int(len(ms) * 0.9)], 2), "max_ms": round(ms[-1], 2)}))


if __name__ == "__main__":
    main()
