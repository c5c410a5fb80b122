"""An OTLP/HTTP trace collector for the tests: it accepts `POST /v1/traces` with a protobuf body,
decodes it (gunzipped when `Content-Encoding: gzip`) with the official `opentelemetry-proto`
package from PyPI (so stepwise's spans are read by code nobody on the project wrote), answers an empty ExportTraceServiceResponse, and keeps each
span as a plain dict: name, kind, ids, parent, status, the resource's attributes and the span's,
attribute values as Python values (an array as a list).

`start()` returns (url, spans, stop): point OTEL_EXPORTER_OTLP_ENDPOINT at url, read spans (a list
the server appends to), call stop() when done.

`python3 tests/mcp/otlp_collector.py --smoke path/to/otlp_smoke` runs the engine's example
(crates/stepwise-engine/examples/otlp_smoke.rs) against it and checks the spans and attributes that
arrived; `--noop-cost` runs its measurement of telemetry off."""

import gzip
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


def value(any_value):
    """An AnyValue as the Python value it holds."""
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return attributes(any_value.kvlist_value.values)
    if kind is None:
        return None
    return getattr(any_value, kind)


def attributes(key_values):
    return {kv.key: value(kv.value) for kv in key_values}


def spans_of(request):
    """The spans of an ExportTraceServiceRequest as plain dicts."""
    out = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                out.append({
                    "name": span.name,
                    "kind": Span.SpanKind.Name(span.kind),
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex() or None,
                    "start_ns": span.start_time_unix_nano,
                    "end_ns": span.end_time_unix_nano,
                    "status": Status.StatusCode.Name(span.status.code),
                    "status_message": span.status.message,
                    "scope": scope_spans.scope.name,
                    "resource": resource,
                    "attributes": attributes(span.attributes),
                })
    return out


def start(host="127.0.0.1", requests=None):
    """Starts the collector on a free port: (url, spans, stop). Each accepted export's headers
    are appended to `requests` when given."""
    spans = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != "/v1/traces":
                return self.answer(404, b"only /v1/traces here", "text/plain")
            if self.headers.get("Content-Type") != "application/x-protobuf":
                return self.answer(415, b"expected application/x-protobuf", "text/plain")
            request = ExportTraceServiceRequest()
            try:
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request.ParseFromString(body)
            except (DecodeError, OSError) as e:
                return self.answer(400, str(e).encode(), "text/plain")
            if requests is not None:
                requests.append({k.lower(): v for k, v in self.headers.items()})
            spans.extend(spans_of(request))
            self.answer(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

        def answer(self, status, body, content_type):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
        thread.join()

    return f"http://{host}:{server.server_address[1]}", spans, stop


def smoke(example):
    """Runs the otlp_smoke example against a collector and checks what arrived."""
    checks = 0

    def check(cond, what, detail=None):
        nonlocal checks
        if not cond:
            print(f"FAIL: {what}" + (f"\n  {detail}" if detail is not None else ""), file=sys.stderr)
            sys.exit(1)
        checks += 1
        print(f"ok: {what}", flush=True)

    requests = []
    url, spans, stop = start(requests=requests)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update({
            "OTEL_EXPORTER_OTLP_ENDPOINT": url,
            "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=acme,authorization=Bearer%20t0ken",
            "OTEL_SERVICE_NAME": "stepwise-smoke",
        })
        began = time.time_ns()
        run = subprocess.run([example], env=env, capture_output=True, text=True, timeout=60)
        check(run.returncode == 0, "the example exits 0 with a collector", run.stderr)
        # The batch exporter flushes at shutdown, before the process exits: nothing to wait for.
        by_name = {}
        for span in spans:
            by_name.setdefault(span["name"], []).append(span)
        check(sorted(by_name) == ["stepwise.decide", "stepwise.gate.call"],
              "spans named stepwise.decide and stepwise.gate.call arrived", spans)
        check(len(by_name["stepwise.decide"]) == 2 and len(by_name["stepwise.gate.call"]) == 1,
              "two decisions (one alone, one of the call) and one call", spans)
        headers = requests[0] if requests else {}
        check(headers.get("x-tenant") == "acme" and headers.get("authorization") == "Bearer t0ken",
              "OTEL_EXPORTER_OTLP_HEADERS sent, percent-decoded", headers)
        for span in spans:
            check(span["resource"].get("service.name") == "stepwise-smoke",
                  f"{span['name']}: service.name from OTEL_SERVICE_NAME", span["resource"])
            check(span["scope"] == "stepwise", f"{span['name']}: the scope is stepwise", span["scope"])
            check(began <= span["start_ns"] <= span["end_ns"] <= time.time_ns(),
                  f"{span['name']}: started and ended during the run", span)

        call = by_name["stepwise.gate.call"][0]
        alone = next(s for s in by_name["stepwise.decide"] if s["parent_span_id"] is None)
        child = next(s for s in by_name["stepwise.decide"] if s["parent_span_id"] is not None)
        check(child["parent_span_id"] == call["span_id"] and child["trace_id"] == call["trace_id"],
              "the call's decision is a child of the call's span", (child, call))
        check(alone["trace_id"] != call["trace_id"], "the decision alone is a trace of its own")
        check(call["kind"] == "SPAN_KIND_SERVER" and child["kind"] == "SPAN_KIND_INTERNAL",
              "the call is a server span, its decision an internal one", (call["kind"], child["kind"]))
        check(call["start_ns"] <= child["start_ns"] <= child["end_ns"] <= call["end_ns"],
              "the decision happened within the call")
        check(call["attributes"] == {
            "stepwise.principal": "agent-7",
            "stepwise.tool": "send_payment",
            "stepwise.result": "forwarded",
            "stepwise.promise": "p-0019",
            "stepwise.approver": "ops-lead",
        }, "the call's attributes: principal, tool, result, promise, approver", call["attributes"])
        check(call["status"] == "STATUS_CODE_UNSET", "a forwarded call is no error", call["status"])
        check(child["attributes"] == {
            "stepwise.principal": "agent-7",
            "stepwise.capability": "payments",
            "stepwise.stake": 120.5,
            "stepwise.verdict": "allowed",
            "stepwise.level": 2,
            "stepwise.level.name": "trusted",
            "stepwise.reasons": ["within_limit"],
            "stepwise.log_size": 4096,
        }, "the call's decision: principal, capability, stake, verdict, level, reasons, log size",
            child["attributes"])
        check(alone["attributes"] == {
            "stepwise.principal": "agent-alone",
            "stepwise.capability": "read",
            "stepwise.stake": 0.5,
            "stepwise.verdict": "denied",
            "stepwise.level": 0,
            "stepwise.level.name": "probation",
            "stepwise.reasons": ["stake_above_limit", "too_few_outcomes"],
            "stepwise.log_size": 41,
        }, "the decision alone: a denial with its two reason codes in order", alone["attributes"])

        # Gzipped bodies, as OTEL_EXPORTER_OTLP_COMPRESSION asks.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        before = len(spans)
        run = subprocess.run([example], env={**env, "OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                             "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"},
                             capture_output=True, text=True, timeout=60)
        check(run.returncode == 0 and len(spans) == before + 3
              and requests[-1].get("content-encoding") == "gzip",
              "OTEL_EXPORTER_OTLP_COMPRESSION=gzip: the same three spans, gzipped",
              (run.stderr, requests[-1], spans[before:]))

        # Off: no endpoint, nothing sent, exit 1 with the reason.
        before = len(spans)
        run = subprocess.run([example], env=env, capture_output=True, text=True, timeout=60)
        check(run.returncode == 1 and "OTEL_EXPORTER_OTLP_ENDPOINT is not set" in run.stderr,
              "without an endpoint: off, and the example says so", run.stderr)
        run = subprocess.run([example], env={**env, "OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                             "OTEL_SDK_DISABLED": "true"},
                             capture_output=True, text=True, timeout=60)
        check(run.returncode == 1, "OTEL_SDK_DISABLED=true: off", run.stderr)
        run = subprocess.run([example], env={**env, "OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                             "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
                             capture_output=True, text=True, timeout=60)
        check(run.returncode == 1 and "OTEL_EXPORTER_OTLP_PROTOCOL" in run.stderr
              and "http/protobuf" in run.stderr,
              "a gRPC protocol is refused, naming the variable", run.stderr)
        check(len(spans) == before, "nothing sent when off or refused", spans[before:])
    finally:
        stop()
    print(f"otlp smoke: {checks} checks passed")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--smoke":
        smoke(sys.argv[2])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "--noop-cost":
        subprocess.run([sys.argv[2], "--noop-cost", *sys.argv[3:]], check=True)
    else:
        sys.exit("usage: otlp_collector.py --smoke path/to/otlp_smoke\n"
                 "       otlp_collector.py --noop-cost path/to/otlp_smoke [ROUNDS]")
