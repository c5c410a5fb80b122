//! The Rust side of `scripts/rank-vs-igraph`: network rank on Epinions, driven over stdin so that
//! a peer in another process (igraph's PRPACK PageRank) can be timed alternately with it in the
//! same run. It never decides anything itself: it loads the data, writes the trust edges it kept
//! so that the peer ranks exactly the same graph, and then answers one command per line:
//!
//! * `parallel` / `sequential`: rank once (uniform teleport, default parameters) with
//!   [`eigentrust`] or [`eigentrust_sequential`] and print `seconds iterations converged`;
//! * `scores PATH`: write the last ranking's scores to PATH, one per line;
//! * `quit`.
//!
//! Usage: `cargo run --release -p stepwise --example rank_peer -- EPINIONS.txt.gz EDGES_OUT`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::Instant;

use stepwise::model::rank::{RankParams, Ranking, TrustGraph, eigentrust, eigentrust_sequential};

/// Epinions (`from<TAB>to<TAB>sign`, `#` comments) as trust edges: ids numbered densely in order
/// of first appearance, a positive sign is weight 1, and what the graph builder would drop or
/// merge (distrust, self-loops, repeated pairs) is left out here already, so the written edge
/// list is exactly the graph that is ranked.
fn load(path: &str) -> Result<(usize, Vec<(u32, u32)>), Failure> {
    let file = std::fs::File::open(path).map_err(|e| format!("opening {path}: {e}"))?;
    let mut ids: HashMap<u64, u32> = HashMap::new();
    let mut dense = |id: u64| -> Result<u32, Failure> {
        let next = u32::try_from(ids.len())?;
        Ok(*ids.entry(id).or_insert(next))
    };
    let mut edges = Vec::new();
    for (number, line) in BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .enumerate()
    {
        let line = line.map_err(|e| format!("{path}: line {}: {e}", number + 1))?;
        if line.starts_with('#') {
            continue;
        }
        let fields: Vec<i64> = line
            .split('\t')
            .map(|f| f.trim().parse())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{path}: line {}: {line:?}: {e}", number + 1))?;
        let [from, to, sign] = fields[..] else {
            return Err(format!("{path}: line {}: not three fields: {line:?}", number + 1).into());
        };
        let (truster, subject) = (dense(u64::try_from(from)?)?, dense(u64::try_from(to)?)?);
        if sign > 0 && truster != subject {
            edges.push((truster, subject));
        }
    }
    edges.sort_unstable();
    edges.dedup();
    Ok((ids.len(), edges))
}

/// Anything that stops the run; the message is printed and the exit status is non-zero.
type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, edges_out] = &args[..] else {
        return Err("usage: rank_peer EPINIONS.txt.gz EDGES_OUT".into());
    };
    let (nodes, edges) = load(data)?;
    let mut out = BufWriter::new(std::fs::File::create(edges_out)?);
    writeln!(out, "{nodes}")?;
    for &(truster, subject) in &edges {
        writeln!(out, "{truster} {subject}")?;
    }
    out.flush()?;
    let begin = Instant::now();
    let graph = TrustGraph::from_edges(nodes, edges.iter().map(|&(t, s)| (t, s, 1.0)))?;
    eprintln!(
        "rank_peer: {nodes} nodes, {} edges, graph built in {:.1} ms, rayon threads {}",
        graph.edges(),
        begin.elapsed().as_secs_f64() * 1e3,
        rayon::current_num_threads()
    );

    let params = RankParams::default();
    let mut last: Option<Ranking> = None;
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let mut words = line.split_whitespace();
        let mut reply = stdout.lock();
        match (words.next(), words.next()) {
            (Some(which @ ("parallel" | "sequential")), None) => {
                let rank = if which == "parallel" {
                    eigentrust
                } else {
                    eigentrust_sequential
                };
                let begin = Instant::now();
                let ranking = rank(&graph, &[], &params)?;
                let seconds = begin.elapsed().as_secs_f64();
                writeln!(
                    reply,
                    "{seconds} {} {}",
                    ranking.iterations, ranking.converged
                )?;
                last = Some(ranking);
            }
            (Some("scores"), Some(path)) => {
                let ranking = last.as_ref().ok_or("no ranking yet: rank first")?;
                let mut out = BufWriter::new(std::fs::File::create(path)?);
                for score in &ranking.scores {
                    writeln!(out, "{score:e}")?;
                }
                out.flush()?;
                writeln!(reply, "ok")?;
            }
            (Some("quit"), None) => break,
            _ => return Err(format!("unknown command {line:?}").into()),
        }
        reply.flush()?;
    }
    Ok(())
}
