//! The telemetry's spans sent to a real collector, without a gate: turns telemetry on from the
//! `OTEL_EXPORTER_OTLP_*` variables, records one decision asked on its own and one gated call
//! with its decision, and exits (dropping the guard flushes them). What
//! `tests/mcp/otlp_collector.py --smoke` runs against its collector.
//!
//! `otlp_smoke --noop-cost [N]` instead measures telemetry off: N (default 1e6) rounds of a
//! start time, a decision span, a call span, its decision and its end, none installed, against
//! the same loop without them; prints the nanoseconds they add.

use std::process::ExitCode;
use std::time::Instant;
use stepwise_engine::telemetry::{self, CallOutcome, CallSpan, DecisionFields};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--noop-cost") => noop_cost(args.get(1).map(String::as_str)),
        None => smoke(),
        Some(other) => {
            eprintln!(
                "otlp_smoke: unknown argument {other:?}; usage: otlp_smoke [--noop-cost [N]]"
            );
            ExitCode::FAILURE
        }
    }
}

fn smoke() -> ExitCode {
    let telemetry = match telemetry::init_from_env("stepwise-otlp-smoke") {
        Ok(Some(telemetry)) => telemetry,
        Ok(None) => {
            eprintln!("otlp_smoke: OTEL_EXPORTER_OTLP_ENDPOINT is not set: nothing to send to");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("otlp_smoke: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("otlp_smoke: sending to {}", telemetry.endpoint());
    // A decision asked on its own (as over HTTP or MCP).
    telemetry::decision_span(&DecisionFields {
        principal: "agent-alone",
        capability: "read",
        stake: 0.5,
        verdict: "denied",
        level: 0,
        level_name: "probation",
        reasons: &[
            "stake_above_limit".to_owned(),
            "too_few_outcomes".to_owned(),
        ],
        log_size: 41,
        started: telemetry::start_time(),
    });
    // A gated call: the call's span, its decision as a child, what became of it.
    let call = CallSpan::start("agent-7", "send_payment");
    call.decided(&DecisionFields {
        principal: "agent-7",
        capability: "payments",
        stake: 120.5,
        verdict: "allowed",
        level: 2,
        level_name: "trusted",
        reasons: &["within_limit"],
        log_size: 4096,
        started: telemetry::start_time(),
    });
    call.end(&CallOutcome {
        result: "forwarded",
        promise: Some("p-0019"),
        approver: Some("ops-lead"),
        error: None,
    });
    match telemetry.shutdown() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otlp_smoke: {e}");
            ExitCode::FAILURE
        }
    }
}

fn noop_cost(rounds: Option<&str>) -> ExitCode {
    let Ok(rounds) = rounds.unwrap_or("1000000").parse::<u32>() else {
        eprintln!("otlp_smoke: --noop-cost N: expected a whole number of rounds");
        return ExitCode::FAILURE;
    };
    if telemetry::enabled() {
        eprintln!("otlp_smoke: telemetry is on; --noop-cost measures it off");
        return ExitCode::FAILURE;
    }
    let reasons = ["within_limit".to_owned()];
    // black_box: the fields are not constants the loop could be folded over.
    let fields = |i: u32| DecisionFields {
        principal: std::hint::black_box("agent-7"),
        capability: "payments",
        stake: std::hint::black_box(f64::from(i)),
        verdict: "allowed",
        level: 2,
        level_name: "trusted",
        reasons: &reasons,
        log_size: u64::from(i),
        started: None,
    };
    let outcome = CallOutcome {
        result: "forwarded",
        ..CallOutcome::default()
    };
    // The loop alone: the fields built and handed over, no span recorded.
    let started = Instant::now();
    for i in 0..rounds {
        std::hint::black_box(&fields(i));
        std::hint::black_box(&outcome);
    }
    let baseline = started.elapsed();
    let started = Instant::now();
    for i in 0..rounds {
        let fields = DecisionFields {
            started: telemetry::start_time(),
            ..fields(i)
        };
        telemetry::decision_span(std::hint::black_box(&fields));
        let call = CallSpan::start(fields.principal, "send_payment");
        call.decided(&fields);
        call.end(std::hint::black_box(&outcome));
    }
    let spans = started.elapsed();
    let ns = |d: std::time::Duration| d.as_secs_f64() * 1e9 / f64::from(rounds.max(1));
    // Five operations a round: the start time, the decision's span, the call's start, its
    // decision and its end. The two loops differ in codegen by as much as the operations cost,
    // so the round is an upper bound on them, the loop alone a reference.
    println!(
        "{rounds} rounds, telemetry off: {:.2} ns a round of five span operations (start time, \
         decision span, call start, its decision, its end; at most {:.2} ns each, the loop \
         included); the loop without them: {:.2} ns a round",
        ns(spans),
        ns(spans) / 5.0,
        ns(baseline)
    );
    ExitCode::SUCCESS
}
