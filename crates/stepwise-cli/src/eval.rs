//! `stepwise eval`: judge the trust model on a real signed network against baselines in the
//! same run — in time order when the network has timestamps, by k-fold cross-validation when it
//! has none (or when asked). Runs in memory; needs no data directory.

use crate::output::Out;
use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use stepwise_sim::eval::{self, Rating};
use stepwise_store::data_dir::DataDir;

#[derive(Args)]
pub struct EvalArgs {
    /// The ratings file (plain or gzip-compressed).
    file: PathBuf,
    /// Its format: `bitcoin-otc` (`SOURCE,TARGET,RATING,TIME`, also Bitcoin Alpha) or
    /// `snap-signed` (`FromNodeId ToNodeId Sign`, no timestamps: Epinions, Slashdot).
    #[arg(long, value_enum, default_value = "bitcoin-otc")]
    format: Format,
    /// Judge by k-fold cross-validation with this many folds instead of the temporal replay
    /// (the only protocol for a network without timestamps, where it defaults to 10).
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=100))]
    folds: Option<u32>,
    /// The seed of the cross-validation's shuffle.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Ground-truth labels (`node_id,label`, 1 benign, -1 fraudulent) for fraud-user AUC.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// The founder whose ratings made the labels (REV2): it and the users it rated ≥ +5 form
    /// the trusted core whose ratings are held out. User 1 on Bitcoin OTC.
    #[arg(long, default_value_t = 1, requires = "labels")]
    labels_root: u64,
    /// Write every prediction as CSV: index,rater,subject,time,rating,p_negative.
    #[arg(long)]
    predictions: Option<PathBuf>,
    /// Write the figures as JSON and the ROC curves and trust-over-time plots as SVG here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Recompute network rank and Fairness/Goodness every this many ratings (temporal replay;
    /// held-out folds compute them once, after learning).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    every: u64,
    /// Also report the AUC of each of stepwise's experts alone and in combination.
    #[arg(long)]
    ablations: bool,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Format {
    BitcoinOtc,
    SnapSigned,
}

fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let mut file =
        BufReader::new(File::open(path).with_context(|| format!("opening {}", path.display()))?);
    let gz = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(file)))
    } else {
        Box::new(file)
    })
}

pub fn run(data: &DataDir, args: EvalArgs, out: &mut Out) -> Result<bool> {
    let folds = match (args.format, args.folds) {
        (Format::SnapSigned, None) => Some(10),
        (_, folds) => folds.map(|k| k as usize),
    };
    if args.labels.is_some() && args.format != Format::BitcoinOtc {
        bail!(
            "--labels: fraud-user AUC needs --format bitcoin-otc (its label leakage is held out through the network's trusted core)"
        );
    }
    if args.ablations && folds.is_some() {
        bail!(
            "--ablations: the ablations use the temporal replay; leave out --folds, on a network with timestamps"
        );
    }
    let (ratings, self_loops) = match args.format {
        Format::BitcoinOtc => (eval::read_bitcoin_otc(open(&args.file)?), 0),
        Format::SnapSigned => match eval::read_snap_signed(open(&args.file)?) {
            Ok((ratings, loops)) => (Ok(ratings), loops),
            Err(e) => (Err(e), 0),
        },
    };
    let ratings = ratings.with_context(|| format!("{}", args.file.display()))?;
    // The policy of the data directory when there is one, the defaults otherwise.
    let params = if data.policy_path().exists() {
        data.policy()?.model
    } else {
        Default::default()
    };
    let every = usize::try_from(args.every).unwrap_or(usize::MAX);
    let bar = crate::output::spinner();
    let run = match folds {
        None => eval::replay(&ratings, &mut eval::systems(&params, every), &mut |n| {
            bar.set_message(format!("{n}/{} ratings", ratings.len()));
            bar.tick();
        }),
        Some(k) => {
            bar.set_message(format!("0/{k} folds judged"));
            // Learning a fold never recomputes; `settle` does, once.
            let systems = || eval::systems(&params, usize::MAX);
            eval::cross_validate(&ratings, k, args.seed, &systems, &|done| {
                bar.set_message(format!("{done}/{k} folds judged"));
                bar.tick();
            })
        }
    };
    bar.finish_and_clear();
    let scores = run.scores(&ratings);
    let negatives = ratings.iter().filter(|r| r.negative()).count();
    let fraud = match &args.labels {
        Some(path) => {
            let labels =
                eval::read_labels(open(path)?).with_context(|| format!("{}", path.display()))?;
            Some(eval::fraud_auc(
                &ratings,
                &labels,
                args.labels_root,
                &params,
            ))
        }
        None => None,
    };
    let ablations = args
        .ablations
        .then(|| eval::ablations(&ratings, &params, every));
    if let Some(path) = &args.predictions {
        write_predictions(path, &ratings, &run)?;
    }
    let protocol = match folds {
        None => json!({"kind": "temporal", "refresh_every": args.every}),
        Some(k) => json!({"kind": "folds", "folds": k, "seed": args.seed}),
    };
    let figures = json!({
        "file": args.file,
        "ratings": ratings.len(),
        "negative": negatives,
        "self_loops_skipped": self_loops,
        "protocol": protocol,
        "systems": scores.iter().map(|s| json!({
            "system": s.system,
            "auc_all": s.auc_all,
            "auc_known_subject": s.auc_known_subject,
            "auc_per_fold": folds.map(|_| &s.auc_per_fold),
        })).collect::<Vec<_>>(),
        "ablations": ablations.as_ref().map(|list| list.iter().map(|(name, a)| json!({"predictor": name, "auc_all": a})).collect::<Vec<_>>()),
        "fraud": fraud.as_ref().map(|(aucs, users, core)| json!({
            "method": format!("ratings given by the trusted core (user {} and users it rated >= 5) are held out; core members are not scored", args.labels_root),
            "core_size": core,
            "users_scored": users,
            "systems": aucs.iter().map(|(s, a)| json!({"system": s, "auc": a})).collect::<Vec<_>>(),
        })),
    });
    if let Some(dir) = &args.report {
        write_report(dir, &figures, &ratings, &run, folds.is_none())?;
    }
    out.emit(&figures, |w| {
        match folds {
            None => writeln!(w, "{} ratings in time order, {negatives} negative; predicted before each is applied", ratings.len())?,
            Some(k) => writeln!(w, "{} ratings, {negatives} negative{}; {k}-fold cross-validation (seed {}): each predicted by models that learned the other folds", ratings.len(), if self_loops > 0 { format!(", {self_loops} self-loops skipped") } else { String::new() }, args.seed)?,
        }
        let header = format!("{:<20} {:>10} {:>22}", "system", "AUC (all)", "AUC (subject known)");
        match folds {
            None => writeln!(w, "{header}")?,
            Some(_) => writeln!(w, "{header} {:>24}", "per fold, mean ± sd")?,
        }
        for s in &scores {
            let f = |a: Option<f64>| a.map_or("—".to_owned(), |a| format!("{a:.4}"));
            let row = format!("{:<20} {:>10} {:>22}", s.system, f(s.auc_all), f(s.auc_known_subject));
            match eval::mean_and_sd(&s.auc_per_fold) {
                None => writeln!(w, "{row}")?,
                Some((m, sd)) => writeln!(w, "{row} {:>24}", format!("{m:.4} ± {sd:.4}"))?,
            }
        }
        if let Some(list) = &ablations {
            writeln!(w, "stepwise's experts, alone and combined (AUC, all ratings):")?;
            for (name, a) in list {
                writeln!(w, "  {:<52} {}", name, a.map_or("—".to_owned(), |a| format!("{a:.4}")))?;
            }
        }
        if let Some((aucs, users, core)) = &fraud {
            writeln!(w, "fraud-user AUC on {users} labelled users; the {core} users of the trusted core and every rating they gave are held out (label leakage):")?;
            for (s, a) in aucs {
                writeln!(w, "{s:<20} {:>10}", a.map_or("—".to_owned(), |a| format!("{a:.4}")))?;
            }
        }
        Ok(())
    })?;
    Ok(true)
}

fn write_predictions(path: &Path, ratings: &[Rating], run: &eval::Run) -> Result<()> {
    let mut w = std::io::BufWriter::new(
        File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    writeln!(w, "index,rater,subject,time,rating,p_negative")?;
    for (i, (r, p)) in ratings.iter().zip(&run.predictions).enumerate() {
        writeln!(
            w,
            "{i},{},{},{},{},{}",
            r.rater, r.subject, r.time, r.value, p[0]
        )?;
    }
    w.flush()?;
    Ok(())
}

const COLOURS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

/// Writes `figures.json` and `roc.svg`, and `trust_over_time.svg` when the ratings were
/// replayed in time order (`temporal`).
fn write_report(
    dir: &Path,
    figures: &Value,
    ratings: &[Rating],
    run: &eval::Run,
    temporal: bool,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join("figures.json"),
        serde_json::to_string_pretty(figures)?,
    )?;
    // ROC curves.
    let labels: Vec<bool> = ratings.iter().map(Rating::negative).collect();
    let mut svg = String::from(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="520" height="520" font-family="sans-serif" font-size="12">
<rect width="520" height="520" fill="white"/><g transform="translate(60,20)">
<rect width="440" height="440" fill="none" stroke="#999"/><line x1="0" y1="440" x2="440" y2="0" stroke="#ccc" stroke-dasharray="4"/>
<text x="220" y="475" text-anchor="middle">false positive rate</text>
<text x="-220" y="-40" transform="rotate(-90)" text-anchor="middle">true positive rate</text>
"##,
    );
    for (k, system) in run.systems.iter().enumerate() {
        let scores: Vec<f64> = run.predictions.iter().map(|p| p[k]).collect();
        let points = eval::roc(&scores, &labels);
        let step = (points.len() / 800).max(1);
        let path: Vec<String> = points
            .iter()
            .step_by(step)
            .chain(points.last())
            .map(|(x, y)| format!("{:.1},{:.1}", x * 440.0, 440.0 - y * 440.0))
            .collect();
        let a = eval::auc(&scores, &labels).unwrap_or(f64::NAN);
        svg.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n<text x=\"250\" y=\"{}\" fill=\"{}\">{system} AUC {a:.3}</text>\n",
            COLOURS[k % 4],
            path.join(" "),
            300 + 18 * k,
            COLOURS[k % 4]
        ));
    }
    svg.push_str("</g></svg>\n");
    std::fs::write(dir.join("roc.svg"), svg)?;
    if !temporal {
        return Ok(());
    }
    // stepwise's P(negative) over time for the six most-rated subjects.
    let mut counts: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for r in ratings {
        *counts.entry(r.subject).or_default() += 1;
    }
    let mut top: Vec<(u64, usize)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let (t0, t1) = (
        ratings[0].time,
        ratings[ratings.len() - 1].time.max(ratings[0].time + 1.0),
    );
    let mut svg = String::from(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="720" height="380" font-family="sans-serif" font-size="12">
<rect width="720" height="380" fill="white"/><g transform="translate(60,20)">
<rect width="600" height="300" fill="none" stroke="#999"/>
<text x="300" y="335" text-anchor="middle">time (first to last rating)</text>
<text x="-150" y="-40" transform="rotate(-90)" text-anchor="middle">1 − P(negative) predicted by stepwise</text>
"##,
    );
    for (k, (subject, n)) in top.iter().take(6).enumerate() {
        let points: Vec<String> = ratings
            .iter()
            .zip(&run.predictions)
            .filter(|(r, _)| r.subject == *subject)
            .map(|(r, p)| {
                format!(
                    "{:.1},{:.1}",
                    (r.time - t0) / (t1 - t0) * 600.0,
                    300.0 - (1.0 - p[0]) * 300.0
                )
            })
            .collect();
        let colour = [
            "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
        ][k];
        svg.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1\" points=\"{}\"/>\n<text x=\"610\" y=\"{}\" fill=\"{colour}\">user {subject} ({n})</text>\n",
            points.join(" "),
            12 + 16 * k
        ));
    }
    svg.push_str("</g></svg>\n");
    std::fs::write(dir.join("trust_over_time.svg"), svg)?;
    Ok(())
}
