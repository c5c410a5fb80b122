//! The log generator: deterministic by seed, every line an event the ledger takes, and shaped
//! like the real data sets, which are measured here from `../shared/data` at test time.

use serde_json::Value;
use std::collections::HashMap;
use std::io::BufReader;
use std::sync::OnceLock;
use stepwise::evidence::{Event, Time};
use stepwise_sim::eval::{Rating, read_bitcoin_otc, read_snap_signed};
use stepwise_sim::generate::shape::{self, Edge, Shape};
use stepwise_sim::generate::*;

fn data(name: &str) -> BufReader<flate2::read::GzDecoder<std::fs::File>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    BufReader::new(flate2::read::GzDecoder::new(file))
}

fn otc() -> Vec<Rating> {
    read_bitcoin_otc(data("soc-sign-bitcoinotc.csv.gz")).expect("Bitcoin OTC parses")
}

fn epinions() -> Vec<Rating> {
    read_snap_signed(data("soc-sign-epinions.txt.gz"))
        .expect("Epinions parses")
        .0
}

fn real_shape(ratings: &[Rating]) -> Shape {
    Shape::measure(ratings.iter().map(|r| Edge {
        truster: r.rater,
        subject: r.subject,
        negative: Some(r.negative()),
    }))
}

/// A generated log, read back: its edges, the instants of its events and its rating values.
struct Log {
    edges: Vec<Edge>,
    instants: Vec<i64>,
    values: Vec<i32>,
}

fn principal(event: &Value, field: &str) -> u64 {
    let id = event[field].as_str().expect("an id");
    id.strip_prefix("gen:")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{field} {id} is not gen:N"))
}

fn read_log(config: &Config) -> Log {
    let mut log = Log {
        edges: Vec::new(),
        instants: Vec::new(),
        values: Vec::new(),
    };
    for text in Generator::new(config).expect("a valid config") {
        let event: Value = serde_json::from_str(&text).expect("JSON");
        let at = Time::parse("at", event["at"].as_str().expect("at")).expect("RFC 3339");
        log.instants.push(at.as_micros());
        let (truster, subject, negative) = match event["kind"].as_str() {
            Some("rating") => {
                let value = event["value"].as_f64().expect("a value");
                log.values.push((value * 10.0).round() as i32);
                ("rater", "subject", Some(value < 0.0))
            }
            Some("promise") => ("promisee", "promisor", None),
            Some("vouch") => ("voucher", "subject", None),
            Some("report") => ("reporter", "subject", None),
            _ => continue,
        };
        log.edges.push(Edge {
            truster: principal(&event, truster),
            subject: principal(&event, subject),
            negative,
        });
    }
    log
}

fn config(events: u64, seed: u64) -> Config {
    Config {
        seed,
        ..Config::new(events)
    }
}

fn bytes(config: &Config) -> Vec<u8> {
    let mut out = Vec::new();
    let written = Generator::new(config)
        .expect("a valid config")
        .write_to(&mut out)
        .expect("writing to memory");
    assert_eq!(written, config.events);
    out
}

#[test]
fn one_seed_gives_one_log_byte_for_byte() {
    let one = bytes(&config(20_000, 1));
    assert_eq!(one, bytes(&config(20_000, 1)));
    assert_ne!(one, bytes(&config(20_000, 2)));
    assert_eq!(one.iter().filter(|&&b| b == b'\n').count(), 20_000);
    // The iterator yields the same lines.
    let lines: Vec<String> = Generator::new(&config(20_000, 1)).expect("valid").collect();
    assert_eq!(
        lines.join("\n") + "\n",
        String::from_utf8(one).expect("UTF-8")
    );
}

/// Checks the ledger's rules over a log (what `Registry::admit` would check, and the time
/// window of `--history`), and returns the log's kinds by name.
fn check_ledger_rules(config: &Config) -> HashMap<String, u64> {
    let until = config.until.as_micros() - END_MARGIN_SECONDS * 1_000_000;
    let mut promises: HashMap<String, (String, i64, bool)> = HashMap::new();
    let mut kinds: HashMap<String, u64> = HashMap::new();
    let mut last = 0;
    for (n, text) in Generator::new(config).expect("valid").enumerate() {
        let event = Event::from_json(&text).unwrap_or_else(|e| panic!("line {n}: {e}: {text}"));
        let at = event.at.as_micros();
        assert!(at >= last && at <= until, "line {n}: {text}");
        last = at;
        let value: Value = serde_json::from_str(&text).expect("JSON");
        let field = |name: &str| value[name].as_str().unwrap_or_default().to_string();
        match value["kind"].as_str().unwrap_or_default() {
            "promise" => {
                let made = (field("promisee"), at, false);
                assert!(promises.insert(field("id"), made).is_none(), "{text}");
            }
            "outcome" => {
                let promise = promises
                    .get_mut(&field("promise"))
                    .expect("an earlier promise");
                assert_eq!(promise.0, field("author"), "judged by its promisee: {text}");
                assert!(
                    promise.1 <= at && !promise.2,
                    "once, after the promise: {text}"
                );
                promise.2 = true;
            }
            _ => {}
        }
        *kinds.entry(field("kind")).or_default() += 1;
    }
    kinds
}

#[test]
fn every_line_is_an_event_the_ledger_takes() {
    let kinds = check_ledger_rules(&config(50_000, 3));
    for kind in ["rating", "promise", "outcome", "vouch", "report"] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) > 500,
            "{kind}: {kinds:?}"
        );
    }
    // Two or three principals: never one rating itself, whoever has joined.
    for principals in [2, 3] {
        let few = Config {
            principals: Some(principals),
            ..config(2_000, 4)
        };
        check_ledger_rules(&few);
    }
    // A span of one day, dated just after 1970, and with promises still open at the end.
    let day = Config {
        span_days: 1,
        until: Time::parse("until", "1970-01-03T00:00:00Z").expect("RFC 3339"),
        ..config(5_000, 5)
    };
    check_ledger_rules(&day);
}

#[test]
fn open_promises_stay_within_their_bound() {
    let crowded = Config {
        max_open: 100,
        span_days: 1,
        ..config(20_000, 6)
    };
    let mut generator = Generator::new(&crowded).expect("valid");
    let mut line = String::new();
    while generator.write_next(&mut line) {
        assert!(generator.open_promises() <= 100);
        line.clear();
    }
    let tally = generator.tally();
    assert!(tally.judged_early > 1_000, "{tally:?}");
    let written = tally.ratings + tally.promises + tally.outcomes + tally.vouches + tally.reports;
    assert_eq!(written, 20_000);
    assert_eq!(
        tally.promises,
        tally.outcomes + tally.unjudged + generator.open_promises() as u64
    );
    // Uncrowded, nothing is judged before its time.
    let mut calm = Generator::new(&config(20_000, 6)).expect("valid");
    calm.write_to(&mut std::io::sink()).expect("sink");
    assert_eq!(calm.tally().judged_early, 0);
}

#[test]
fn bad_settings_are_refused_naming_the_setting() {
    let until = |text| Time::parse("until", text).expect("RFC 3339");
    let cases = [
        (config(0, 0), "events must be 1 to"),
        (
            Config {
                principals: Some(1),
                ..config(10, 0)
            },
            "principals must be at least 2",
        ),
        (
            Config {
                principals: Some(1 << 40),
                ..config(10, 0)
            },
            "principals must be at most",
        ),
        (
            Config {
                span_days: 0,
                ..config(10, 0)
            },
            "span_days must be 1 to",
        ),
        (
            Config {
                until: until("1975-01-01T00:00:00Z"),
                ..config(10, 0)
            },
            "until 1975",
        ),
        (
            Config {
                until: until("9999-12-01T00:00:00Z"),
                ..config(10, 0)
            },
            "reaches outside",
        ),
    ];
    for (config, words) in cases {
        match Generator::new(&config) {
            Err(e) => assert!(e.to_string().contains(words), "{e}"),
            Ok(_) => panic!("{config:?} was accepted"),
        }
    }
    // One event, and the default number of principals of a tiny log.
    assert_eq!(config(1, 0).principals(), 2);
    assert_eq!(
        bytes(&config(1, 0)).iter().filter(|&&b| b == b'\n').count(),
        1
    );
}

/// Bitcoin OTC's and Epinions' shapes, measured once per test run.
fn real_shapes() -> &'static (Shape, Shape) {
    static SHAPES: OnceLock<(Shape, Shape)> = OnceLock::new();
    SHAPES.get_or_init(|| (real_shape(&otc()), real_shape(&epinions())))
}

/// Whether `value` lies between `a` and `b` (in either order), widened by `slack` each way.
fn between(value: f64, a: f64, b: f64, slack: f64) -> bool {
    a.min(b) - slack <= value && value <= a.max(b) + slack
}

/// The figures of a graph that must lie within the real data sets' band, each with its slack:
/// each direction's top 1% and 10% shares, share of principals with none, and tail exponent.
fn out_of_band(graph: &Shape) -> Vec<String> {
    let (otc, epinions) = real_shapes();
    let mut wrong = Vec::new();
    let figures = |s: &Shape| {
        [
            ("given top 1%", s.given.top1, 0.02),
            ("given top 10%", s.given.top10, 0.02),
            ("given none", s.given.none, 0.02),
            ("given exponent", s.given.exponent, 0.05),
            ("received top 1%", s.received.top1, 0.02),
            ("received top 10%", s.received.top10, 0.02),
            ("received none", s.received.none, 0.02),
            ("received exponent", s.received.exponent, 0.05),
            ("reciprocity", s.reciprocity, 0.0),
        ]
    };
    for ((name, value, slack), (o, e)) in figures(graph)
        .into_iter()
        .zip(figures(otc).into_iter().zip(figures(epinions)))
    {
        if !between(value, o.1, e.1, slack) {
            wrong.push(format!(
                "{name} {value:.3} not within {:.3}..{:.3}",
                o.1, e.1
            ));
        }
    }
    wrong
}

#[test]
fn a_generated_graph_is_shaped_like_the_real_ones() {
    let (otc, epinions) = real_shapes();
    let log = read_log(&config(100_000, 1));
    let graph = Shape::measure(log.edges.iter().copied());
    assert_eq!(out_of_band(&graph), Vec::<String>::new(), "{graph:?}");
    // The heavy tail, plainly: the top 1% hold more than a quarter of the edges each way.
    assert!(
        graph.given.top1 > 0.25 && graph.received.top1 > 0.25,
        "{graph:?}"
    );
    assert!(
        between(
            graph.negative_share,
            otc.negative_share,
            epinions.negative_share,
            0.0
        ),
        "{} negative",
        graph.negative_share
    );
    assert!(
        (graph.edges_per_principal - EDGES_PER_PRINCIPAL).abs() < 0.3,
        "{graph:?}"
    );
    // Rating values as OTC's, within sampling error.
    let (negative, positive) = shape::rating_values(log.values.iter().copied());
    for (measured, table) in [(negative, NEGATIVE_VALUES), (positive, POSITIVE_VALUES)] {
        for (m, t) in measured.iter().zip(table) {
            assert!((m - f64::from(t) / 1000.0).abs() < 0.02, "{measured:?}");
        }
    }
}

#[test]
fn the_band_tells_a_power_law_from_a_uniform_graph() {
    // As many edges among as many principals, every pair equally likely: no heavy tail, so
    // the band refuses it (the check above can fail).
    let mut x = 1u64;
    let mut next = |n: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % n
    };
    let uniform: Vec<Edge> = (0..80_000)
        .map(|_| {
            let truster = next(12_000);
            let subject = (truster + 1 + next(11_999)) % 12_000;
            Edge {
                truster,
                subject,
                negative: None,
            }
        })
        .collect();
    let wrong = out_of_band(&Shape::measure(uniform));
    assert!(
        wrong.iter().any(|w| w.starts_with("given top 1%")),
        "{wrong:?}"
    );
    assert!(
        wrong.iter().any(|w| w.starts_with("received exponent")),
        "{wrong:?}"
    );
}

#[test]
fn the_constants_are_measured_from_the_real_data() {
    let ratings = otc();
    let (otc_shape, epinions_shape) = real_shapes();
    let (negative, positive) = shape::rating_values(ratings.iter().map(|r| r.value));
    for (measured, table) in [(negative, NEGATIVE_VALUES), (positive, POSITIVE_VALUES)] {
        for (m, t) in measured.iter().zip(table) {
            // Per mille, rounded (and −10 one lower, so that the table sums to 1000).
            assert!(
                (m - f64::from(t) / 1000.0).abs() < 0.0015,
                "{measured:?} vs {table:?}"
            );
        }
    }
    let instants: Vec<i64> = ratings.iter().map(|r| (r.time * 1e6) as i64).collect();
    let activity = shape::activity(&instants);
    for (m, t) in activity.tenths.iter().zip(TREND) {
        assert!((m - t).abs() < 0.0011, "{:?} vs {TREND:?}", activity.tenths);
    }
    assert!((epinions_shape.edges_per_principal - EDGES_PER_PRINCIPAL).abs() < 0.005);
    let days = (ratings[ratings.len() - 1].time - ratings[0].time) / 86_400.0;
    assert_eq!(days.ceil() as u32, DEFAULT_SPAN_DAYS + 1, "{days}");
    // The figures the module doc quotes.
    assert!((otc_shape.negative_share - 0.100).abs() < 0.001);
    assert!((epinions_shape.negative_share - 0.147).abs() < 0.001);
    assert!(
        (otc_shape.reciprocity - 0.79).abs() < 0.005,
        "{otc_shape:?}"
    );
    assert!(
        (epinions_shape.reciprocity - 0.31).abs() < 0.005,
        "{epinions_shape:?}"
    );
}

#[test]
fn time_follows_otc_with_its_bursts() {
    let otc_activity = shape::activity(
        &otc()
            .iter()
            .map(|r| (r.time * 1e6) as i64)
            .collect::<Vec<_>>(),
    );
    let log = read_log(&config(100_000, 1));
    let activity = shape::activity(&log.instants);
    for (m, t) in activity.tenths.iter().zip(TREND) {
        assert!((m - t).abs() < 0.005, "{activity:?}");
    }
    assert!(
        (activity.busiest_days - otc_activity.busiest_days).abs() < 0.04,
        "{activity:?} vs OTC {otc_activity:?}"
    );
    assert!(
        (activity.daily_variation - otc_activity.daily_variation).abs() < 0.25,
        "{activity:?} vs OTC {otc_activity:?}"
    );
    let first = log.instants[0];
    let span = (log.instants[log.instants.len() - 1] - first) as f64 / 86_400e6;
    assert!(
        (span - f64::from(DEFAULT_SPAN_DAYS)).abs() < 2.0,
        "{span} days"
    );
}
