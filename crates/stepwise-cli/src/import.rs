//! `stepwise import`: append many events from a file, a batch (one transaction) at a time.
//!
//! A bad line is reported with its number and never stops or spoils the rest; a storage failure
//! stops the import, and everything recorded before it is durable and reported. Input may be
//! plain or gzip-compressed, from a file or standard input.

use crate::output::{Out, hex};
use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal as _, Read};
use std::path::PathBuf;
use stepwise::evidence::{Body, Event, FieldError, Id, MAX_EVENT_BYTES, Refusal, Time};
use stepwise::ledger::Origin;
use stepwise_store::MAX_BATCH;
use stepwise_store::data_dir::DataDir;

#[derive(Args)]
pub struct ImportArgs {
    /// The file to read (plain or gzip-compressed); `-` reads standard input.
    file: PathBuf,
    /// `jsonl`: one event object per line, fields as in DESIGN.md. `bitcoin-otc`:
    /// SOURCE,TARGET,RATING,TIME lines (RATING in -10..10, TIME in Unix seconds), each
    /// recorded as a `rating` of RATING/10. `snap-signed`: SNAP's signed networks (Epinions,
    /// Slashdot), `SOURCE TARGET SIGN` lines with SIGN 1 or -1 and no time, each recorded as
    /// a `rating` of SIGN dated `--at`.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// The instant every rating of a `snap-signed` file is dated (RFC 3339; with `--history`
    /// when it lies outside the log's time window).
    #[arg(long)]
    at: Option<String>,
    /// Events per transaction (1 to 10000).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Prefix for the principal ids of a ratings CSV, for example `otc:`.
    #[arg(long, default_value = "")]
    id_prefix: String,
    /// Load a data set with its own dates as history: each event may be dated any time up to
    /// the policy's `max_ahead` past now, and its entry is marked `"history": true`. Without
    /// it, every `at` must lie within the policy's time window around the moment the log
    /// records it (`[time] max_backdate`, default 24 h).
    #[arg(long)]
    history: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Jsonl,
    BitcoinOtc,
    SnapSigned,
}

/// Lines refused, with why.
struct Rejected {
    line: u64,
    error: String,
}

pub fn run(data: &DataDir, args: ImportArgs, out: &mut Out) -> Result<bool> {
    if !(1..=MAX_BATCH).contains(&args.batch) {
        bail!(
            "--batch must be between 1 and {MAX_BATCH}, not {}",
            args.batch
        );
    }
    let snap_at = match (args.format, args.at.as_deref()) {
        (Format::SnapSigned, Some(text)) => Some(Time::parse("--at", text)?),
        (Format::SnapSigned, None) => {
            bail!("--format snap-signed needs --at: SNAP's signed networks carry no time")
        }
        (_, Some(_)) => bail!("--at dates the ratings of --format snap-signed only"),
        (_, None) => None,
    };
    let (reader, total) = open(&args.file)?;
    let progress = progress_bar(total);
    let counted = Counted {
        inner: reader,
        progress: progress.clone(),
    };
    let mut input = decompress(BufReader::with_capacity(1 << 16, counted))?;
    let mut ledger = crate::open_for_writing(data)?;

    let origin = if args.history {
        Origin::History
    } else {
        Origin::Live
    };
    // Lines are read and parsed into the next batch while the one before it is written.
    let rejected: RefCell<Vec<Rejected>> = RefCell::new(Vec::new());
    let batch_lines: RefCell<VecDeque<Vec<u64>>> = RefCell::new(VecDeque::new());
    let mut read_error = None;
    let mut line_no = 0u64;
    let mut buf = Vec::with_capacity(1024);
    let mut next = || {
        let mut lines = Vec::with_capacity(args.batch);
        let mut events = Vec::with_capacity(args.batch);
        while events.len() < args.batch {
            line_no += 1;
            let line = read_line(&mut input, &mut buf);
            match line.with_context(|| format!("reading line {line_no}")) {
                Ok(Line::End) => break,
                Ok(Line::TooLong) => rejected.borrow_mut().push(Rejected {
                    line: line_no,
                    error: format!("the line is longer than {MAX_EVENT_BYTES} bytes"),
                }),
                Ok(Line::Text) => match parse(&buf, &args, snap_at) {
                    Ok(Some(event)) => {
                        lines.push(line_no);
                        events.push(event);
                    }
                    Ok(None) => {}
                    Err(e) => rejected.borrow_mut().push(Rejected {
                        line: line_no,
                        error: e.to_string(),
                    }),
                },
                Err(e) => {
                    read_error = Some(e);
                    return None;
                }
            }
        }
        if events.is_empty() {
            return None;
        }
        batch_lines.borrow_mut().push_back(lines);
        Some(events)
    };
    let mut recorded = 0u64;
    let mut out_of_window = 0u64;
    let mut done = |appended: stepwise_store::Appended| {
        crate::warn_clock(&appended);
        let lines = batch_lines.borrow_mut().pop_front().unwrap_or_default();
        for (line, result) in lines.into_iter().zip(appended.results) {
            match result {
                Ok(_) => recorded += 1,
                Err(e) => {
                    if e.code == Refusal::AtOutOfWindow {
                        out_of_window += 1;
                    }
                    rejected.borrow_mut().push(Rejected {
                        line,
                        error: e.to_string(),
                    })
                }
            }
        }
        progress.set_message(format!("{recorded} recorded"));
    };
    let appended = ledger.append_stream(origin, &mut next, &mut done);
    appended.with_context(|| {
        format!("storage failed; the {recorded} events recorded before this batch are durable")
    })?;
    if let Some(e) = read_error {
        return Err(e.context(format!(
            "the {recorded} events recorded before this line are durable"
        )));
    }
    progress.finish_and_clear();
    let mut rejected = rejected.into_inner();

    rejected.sort_by_key(|r| r.line);
    let cp = ledger.checkpoint().clone();
    let hint = (out_of_window > 0 && !args.history).then(|| {
        format!(
            "{out_of_window} events are dated outside the log's time window; to load a data set \
             with its own dates, import it as history: stepwise import --history"
        )
    });
    out.emit(
        &serde_json::json!({
            "recorded": recorded,
            "rejected": rejected.iter().map(|r| serde_json::json!({"line": r.line, "error": r.error})).collect::<Vec<_>>(),
            "size": cp.size,
            "root": hex(&cp.root),
            "history": args.history,
            "hint": hint,
        }),
        |w| {
            writeln!(
                w,
                "recorded {recorded} events, rejected {} lines; log size {}",
                rejected.len(),
                cp.size
            )?;
            for r in rejected.iter().take(20) {
                writeln!(w, "line {}: {}", r.line, r.error)?;
            }
            if rejected.len() > 20 {
                writeln!(w, "… and {} more rejected lines (--json lists them all)", rejected.len() - 20)?;
            }
            if let Some(hint) = &hint {
                writeln!(w, "{hint}")?;
            }
            Ok(())
        },
    )?;
    Ok(rejected.is_empty())
}

/// A rating by `rater` of `subject` at `at`.
fn rating_event(rater: Id, subject: Id, value: f64, at: Time) -> Event {
    Event {
        at,
        author: None,
        body: Body::Rating {
            rater,
            subject,
            value,
            scope: None,
        },
        note: None,
        sig: None,
        stamp: None,
        seal: None,
    }
}

/// The rater and subject of a line, refused when they are one principal.
fn pair(source: &str, target: &str, prefix: &str) -> Result<(Id, Id), FieldError> {
    let rater = Id::parse("SOURCE", &format!("{prefix}{source}"))?;
    let subject = Id::parse("TARGET", &format!("{prefix}{target}"))?;
    if rater == subject {
        return Err(FieldError::new(
            "TARGET",
            "is the same as SOURCE: nobody can rate themselves",
        ));
    }
    Ok((rater, subject))
}

/// One `SOURCE TARGET SIGN` line of a SNAP signed network as a `rating` event at `at`.
fn rating_from_snap(text: &str, prefix: &str, at: Time) -> Result<Event, FieldError> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [source, target, sign] = fields[..] else {
        return Err(FieldError::new(
            "(line)",
            format!(
                "has {} whitespace-separated fields; expected SOURCE TARGET SIGN",
                fields.len()
            ),
        ));
    };
    let (rater, subject) = pair(source, target, prefix)?;
    let value = match sign {
        "1" => 1.0,
        "-1" => -1.0,
        other => return Err(FieldError::new("SIGN", format!("{other:?} is not 1 or -1"))),
    };
    Ok(rating_event(rater, subject, value, at))
}

/// One `SOURCE,TARGET,RATING,TIME` line as a `rating` event.
fn rating_from_csv(text: &str, prefix: &str) -> Result<Event, FieldError> {
    let fields: Vec<&str> = text.split(',').map(str::trim).collect();
    let [source, target, rating, time] = fields[..] else {
        return Err(FieldError::new(
            "(line)",
            format!(
                "has {} comma-separated fields; expected SOURCE,TARGET,RATING,TIME",
                fields.len()
            ),
        ));
    };
    let (rater, subject) = pair(source, target, prefix)?;
    let value: i32 = rating
        .parse()
        .ok()
        .filter(|r| (-10..=10).contains(r))
        .ok_or_else(|| {
            FieldError::new(
                "RATING",
                format!("{rating:?} is not a whole number in -10..10"),
            )
        })?;
    let at = time
        .parse::<f64>()
        .ok()
        .and_then(Time::from_unix_seconds)
        .ok_or_else(|| {
            FieldError::new(
                "TIME",
                format!("{time:?} is not a Unix time in seconds from 1970 to 9999"),
            )
        })?;
    Ok(rating_event(rater, subject, f64::from(value) / 10.0, at))
}

/// One line of the input as an event: `None` for a blank line or a `#` comment.
fn parse(
    line: &[u8],
    args: &ImportArgs,
    snap_at: Option<Time>,
) -> Result<Option<Event>, FieldError> {
    let text = std::str::from_utf8(line)
        .map_err(|_| FieldError::new("(line)", "is not valid UTF-8"))?
        .trim();
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    match args.format {
        Format::Jsonl => Event::from_json(text),
        Format::BitcoinOtc => rating_from_csv(text, &args.id_prefix),
        Format::SnapSigned => match snap_at {
            Some(at) => rating_from_snap(text, &args.id_prefix, at),
            None => Err(FieldError::new("--at", "is missing")),
        },
    }
    .map(Some)
}

enum Line {
    Text,
    TooLong,
    End,
}

/// Reads one line (without its newline) into `buf`, never holding more than the size limit.
fn read_line(input: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<Line> {
    buf.clear();
    let limit = MAX_EVENT_BYTES as u64 + 2;
    let n = (&mut *input).take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(Line::End);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(Line::Text);
    }
    if (n as u64) < limit {
        return Ok(Line::Text); // the last line, without a newline
    }
    // Too long: skip to the end of the line.
    let mut skipped = Vec::new();
    loop {
        skipped.clear();
        let n = (&mut *input)
            .take(1 << 16)
            .read_until(b'\n', &mut skipped)?;
        if n == 0 || skipped.last() == Some(&b'\n') {
            return Ok(Line::TooLong);
        }
    }
}

/// The input and its size in bytes, when known.
fn open(path: &PathBuf) -> Result<(Box<dyn Read>, Option<u64>)> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(io::stdin()), None));
    }
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata().ok().map(|m| m.len());
    Ok((Box::new(file), size))
}

/// Wraps gzip input in a decoder, detected by its magic bytes.
fn decompress<R: BufRead + 'static>(mut input: R) -> Result<Box<dyn BufRead>> {
    let head = input.fill_buf().context("reading the input")?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::new(
            flate2::bufread::MultiGzDecoder::new(input),
        )))
    } else {
        Ok(Box::new(input))
    }
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match total {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => crate::output::spinner(),
    }
}

/// Counts bytes read from the raw input, for the progress bar.
struct Counted {
    inner: Box<dyn Read>,
    progress: ProgressBar,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}
