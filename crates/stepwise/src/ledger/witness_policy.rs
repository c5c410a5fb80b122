//! C2SP `tlog-policy`: which logs and witnesses a party trusts, and how many witnesses must
//! have cosigned a checkpoint before it believes it (the quorum).
//!
//! The file is read as octets, as the specification asks: lines end in a newline; items are
//! separated by spaces and tabs; `#` starts a comment line; names are opaque bytes; only tab,
//! newline, 0x20–0x7E and 0x80–0xFF may appear. A group may name only witnesses and groups
//! defined above it, each once; `none` is predefined; there is exactly one `quorum` line.
//! Witness keys are Ed25519 `cosignature/v1` keys (vkey type 0x04); ML-DSA-44 keys (0x06) are
//! refused by name.

use std::collections::HashMap;

use super::cosign::{CosignatureError, CosignerVerifier};
use super::note::{Checkpoint, LogVerifier, NoteError, SignedNote};

/// A policy file is at most this many bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// At most this many logs, witnesses and groups each (the specification recommends at least
/// 32).
pub const MAX_ITEMS: usize = 256;

/// A witness the policy names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// Its name in the policy (opaque bytes, shown lossily).
    pub name: String,
    /// Its cosigning key.
    pub key: CosignerVerifier,
    /// Its submission prefix, when the policy gives one.
    pub url: Option<String>,
}

/// A log the policy names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log {
    /// Its key; the key's name is the log's origin.
    pub key: LogVerifier,
    /// Its URL, when the policy gives one.
    pub url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    threshold: usize,
    members: Vec<Member>,
}

/// A parsed `tlog-policy` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessPolicy {
    logs: Vec<Log>,
    witnesses: Vec<Witness>,
    groups: Vec<Group>,
    /// `None` is `quorum none`.
    quorum: Option<Member>,
}

/// A policy file that cannot be used, with the line at fault (from 1; 0 for the whole file).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("witness policy, line {line}: {problem}")]
pub struct PolicyError {
    /// The line, counted from 1; 0 when the fault is the file's.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// Why a checkpoint does not satisfy a policy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    /// The note is not a checkpoint signed by a log the policy trusts.
    #[error("the checkpoint is not signed by a trusted log: {0}")]
    Log(String),
    /// A witness's line is there but does not verify.
    #[error(transparent)]
    Cosignature(#[from] CosignatureError),
    /// Too few witnesses cosigned.
    #[error("the checkpoint lacks the witnesses' quorum: cosigned by {cosigned:?}, not enough")]
    NoQuorum {
        /// The witnesses (by policy name) whose cosignatures verified.
        cosigned: Vec<String>,
    },
}

/// A checkpoint that satisfies a policy: signed by a trusted log and cosigned by a quorum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witnessed {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Each witness whose cosignature verified, by policy name, with its timestamp.
    pub cosigned: Vec<(String, u64)>,
}

fn fault(line: usize, problem: impl Into<String>) -> PolicyError {
    PolicyError {
        line,
        problem: problem.into(),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn vkey_text(line: usize, bytes: &[u8]) -> Result<&str, PolicyError> {
    std::str::from_utf8(bytes).map_err(|_| fault(line, "a vkey must be ASCII"))
}

fn url(line: usize, item: Option<&[u8]>) -> Result<Option<String>, PolicyError> {
    item.map(|u| {
        String::from_utf8(u.to_vec())
            .map_err(|_| fault(line, "this implementation needs URLs in UTF-8"))
    })
    .transpose()
}

fn key_fault(line: usize, what: &str, e: &NoteError) -> PolicyError {
    fault(line, format!("the {what} key is not usable: {e}"))
}

impl WitnessPolicy {
    /// Parses a policy file; the error names the line and the problem.
    pub fn parse(file: &[u8]) -> Result<Self, PolicyError> {
        if file.len() > MAX_POLICY_BYTES {
            return Err(fault(
                0,
                format!("the file is over {MAX_POLICY_BYTES} bytes"),
            ));
        }
        let mut policy = Self {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut names: HashMap<Vec<u8>, Member> = HashMap::new();
        let mut quorum_line = None;
        for (n, raw) in file.split(|&b| b == b'\n').enumerate() {
            let line = n + 1;
            if let Some(&b) = raw.iter().find(|&&b| b != b'\t' && (b < 0x20 || b == 0x7f)) {
                return Err(fault(line, format!("the byte 0x{b:02x} is not allowed")));
            }
            let items: Vec<&[u8]> = raw
                .split(|&b| b == b' ' || b == b'\t')
                .filter(|item| !item.is_empty())
                .collect();
            let Some((&keyword, args)) = items.split_first() else {
                continue;
            };
            if keyword.starts_with(b"#") {
                continue;
            }
            if quorum_line.is_some() && keyword == b"quorum" {
                return Err(fault(line, "a second `quorum` line"));
            }
            match keyword {
                b"log" => policy.log_line(line, args)?,
                b"witness" => policy.witness_line(line, args, &mut names)?,
                b"group" => policy.group_line(line, args, &mut names)?,
                b"quorum" => {
                    let [name] = args else {
                        return Err(fault(line, "expected `quorum <name>`"));
                    };
                    policy.quorum = if *name == b"none" {
                        None
                    } else {
                        Some(*names.get(*name).ok_or_else(|| {
                            fault(line, format!("`{}` is not defined above", text(name)))
                        })?)
                    };
                    quorum_line = Some(line);
                }
                other => {
                    return Err(fault(line, format!("unknown keyword `{}`", text(other))));
                }
            }
        }
        if quorum_line.is_none() {
            return Err(fault(0, "there is no `quorum` line"));
        }
        Ok(policy)
    }

    fn log_line(&mut self, line: usize, args: &[&[u8]]) -> Result<(), PolicyError> {
        let (vkey, rest) = args
            .split_first()
            .filter(|(_, rest)| rest.len() <= 1)
            .ok_or_else(|| fault(line, "expected `log <vkey> [<url>]`"))?;
        let key =
            LogVerifier::parse(vkey_text(line, vkey)?).map_err(|e| key_fault(line, "log", &e))?;
        if self
            .logs
            .iter()
            .any(|l| l.key.public_key() == key.public_key())
        {
            return Err(fault(line, "this log's key is listed twice"));
        }
        if self.logs.len() == MAX_ITEMS {
            return Err(fault(line, format!("more than {MAX_ITEMS} logs")));
        }
        self.logs.push(Log {
            key,
            url: url(line, rest.first().copied())?,
        });
        Ok(())
    }

    fn witness_line(
        &mut self,
        line: usize,
        args: &[&[u8]],
        names: &mut HashMap<Vec<u8>, Member>,
    ) -> Result<(), PolicyError> {
        let [name, vkey, rest @ ..] = args else {
            return Err(fault(line, "expected `witness <name> <vkey> [<url>]`"));
        };
        if rest.len() > 1 {
            return Err(fault(line, "expected `witness <name> <vkey> [<url>]`"));
        }
        let key = CosignerVerifier::parse(vkey_text(line, vkey)?)
            .map_err(|e| key_fault(line, "witness", &e))?;
        if self
            .witnesses
            .iter()
            .any(|w| w.key.public_key() == key.public_key())
        {
            return Err(fault(line, "this witness's key is listed twice"));
        }
        if self.witnesses.len() == MAX_ITEMS {
            return Err(fault(line, format!("more than {MAX_ITEMS} witnesses")));
        }
        define(line, name, Member::Witness(self.witnesses.len()), names)?;
        self.witnesses.push(Witness {
            name: text(name),
            key,
            url: url(line, rest.first().copied())?,
        });
        Ok(())
    }

    fn group_line(
        &mut self,
        line: usize,
        args: &[&[u8]],
        names: &mut HashMap<Vec<u8>, Member>,
    ) -> Result<(), PolicyError> {
        let [name, threshold, members @ ..] = args else {
            return Err(fault(line, "expected `group <name> <all|any|k> <name>...`"));
        };
        if members.is_empty() {
            return Err(fault(line, "a group needs at least one member"));
        }
        let mut resolved = Vec::with_capacity(members.len());
        for member in members {
            let found = names
                .get(*member)
                .ok_or_else(|| fault(line, format!("`{}` is not defined above", text(member))))?;
            if resolved.contains(found) {
                return Err(fault(line, format!("`{}` is listed twice", text(member))));
            }
            resolved.push(*found);
        }
        let n = resolved.len();
        let threshold = match *threshold {
            b"all" => n,
            b"any" => 1,
            k => parse_threshold(k)
                .filter(|k| (1..=n).contains(k))
                .ok_or_else(|| {
                    fault(
                        line,
                        format!("the threshold must be all, any or a number from 1 to {n}"),
                    )
                })?,
        };
        if self.groups.len() == MAX_ITEMS {
            return Err(fault(line, format!("more than {MAX_ITEMS} groups")));
        }
        define(line, name, Member::Group(self.groups.len()), names)?;
        self.groups.push(Group {
            threshold,
            members: resolved,
        });
        Ok(())
    }

    /// The logs the policy names.
    pub fn logs(&self) -> &[Log] {
        &self.logs
    }

    /// The witnesses the policy names.
    pub fn witnesses(&self) -> &[Witness] {
        &self.witnesses
    }

    /// Whether the witnesses marked in `cosigned` (by index in [`Self::witnesses`]) make the
    /// quorum.
    pub fn quorum_met(&self, cosigned: &[bool]) -> bool {
        self.quorum.is_none_or(|q| self.met(q, cosigned))
    }

    fn met(&self, member: Member, cosigned: &[bool]) -> bool {
        match member {
            Member::Witness(w) => cosigned.get(w).copied().unwrap_or(false),
            Member::Group(g) => self.groups.get(g).is_some_and(|group| {
                group
                    .members
                    .iter()
                    .filter(|&&m| self.met(m, cosigned))
                    .count()
                    >= group.threshold
            }),
        }
    }

    /// Checks a signed checkpoint: signed by `log` (or, when `log` is `None`, by one of the
    /// policy's logs), and cosigned by a quorum of its witnesses. Lines by unknown keys are
    /// ignored; a line by a known witness that does not verify is an error.
    pub fn verify(&self, log: Option<&LogVerifier>, note: &str) -> Result<Witnessed, QuorumError> {
        let checkpoint = match log {
            Some(log) => log.verify_checkpoint(note),
            None if self.logs.is_empty() => {
                return Err(QuorumError::Log("the policy names no log".into()));
            }
            None => self
                .logs
                .iter()
                .map(|l| l.key.verify_checkpoint(note))
                .find(Result::is_ok)
                .unwrap_or_else(|| {
                    Err(NoteError::MalformedNote {
                        reason: "no log of the policy signed it".into(),
                    })
                }),
        }
        .map_err(|e| QuorumError::Log(e.to_string()))?;
        let signed = SignedNote::parse(note).map_err(|e| QuorumError::Log(e.to_string()))?;
        let mut marks = vec![false; self.witnesses.len()];
        let mut cosigned = Vec::new();
        for (mark, witness) in marks.iter_mut().zip(&self.witnesses) {
            if let Some(timestamp) = witness.key.cosigned(&signed)? {
                *mark = true;
                cosigned.push((witness.name.clone(), timestamp));
            }
        }
        if !self.quorum_met(&marks) {
            return Err(QuorumError::NoQuorum {
                cosigned: cosigned.into_iter().map(|(name, _)| name).collect(),
            });
        }
        Ok(Witnessed {
            checkpoint,
            cosigned,
        })
    }
}

fn parse_threshold(k: &[u8]) -> Option<usize> {
    if k.is_empty() || !k.iter().all(u8::is_ascii_digit) || (k.len() > 1 && k[0] == b'0') {
        return None;
    }
    std::str::from_utf8(k).ok()?.parse().ok()
}

fn define(
    line: usize,
    name: &[u8],
    member: Member,
    names: &mut HashMap<Vec<u8>, Member>,
) -> Result<(), PolicyError> {
    if name == b"none" || names.contains_key(name) {
        return Err(fault(line, format!("the name `{}` is taken", text(name))));
    }
    names.insert(name.to_vec(), member);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::cosign::{CosignerAlgorithm, CosignerKey};
    use crate::ledger::note::LogSigner;

    fn witness(n: u8) -> CosignerKey {
        // Odd witnesses sign with ML-DSA-44, even ones with Ed25519.
        let alg = if n % 2 == 1 {
            CosignerAlgorithm::MlDsa44
        } else {
            CosignerAlgorithm::Ed25519
        };
        CosignerKey::from_seed(&format!("w{n}.example"), alg, [n; 32]).expect("name")
    }

    fn log() -> LogSigner {
        LogSigner::from_seed("log.example/a", [200; 32]).expect("name")
    }

    fn policy(quorum: &str) -> WitnessPolicy {
        let mut text = format!(
            "# the example of tlog-policy\nlog {}\n",
            log().verifier().encode()
        );
        for n in 1..=6 {
            text += &format!(
                "witness W{n} {} https://w{n}.example/\n",
                witness(n).verifier().encode()
            );
        }
        text += "group X 2 W1 W2 W3\n\tgroup Y any W4 W5 W6 \ngroup XY all X Y\n";
        text += &format!("quorum {quorum}\n");
        WitnessPolicy::parse(text.as_bytes()).expect("valid policy")
    }

    fn note(cosigners: &[u8]) -> String {
        let cp = Checkpoint {
            origin: "log.example/a".into(),
            size: 10,
            root: [5; 32],
            extensions: Vec::new(),
        };
        let mut note = log().sign_checkpoint(&cp).expect("signs");
        for &n in cosigners {
            note += &witness(n)
                .cosign(&cp, 1_800_000_000 + u64::from(n))
                .expect("cosigns");
        }
        note
    }

    #[test]
    fn nested_groups_make_the_quorum_of_the_specification_example() {
        let p = policy("XY");
        assert_eq!(p.witnesses().len(), 6);
        assert_eq!(p.witnesses()[0].url.as_deref(), Some("https://w1.example/"));
        let ok = p.verify(None, &note(&[1, 3, 5])).expect("two X and one Y");
        assert_eq!(
            ok.cosigned,
            vec![
                ("W1".into(), 1_800_000_001),
                ("W3".into(), 1_800_000_003),
                ("W5".into(), 1_800_000_005)
            ]
        );
        assert!(matches!(
            p.verify(None, &note(&[1, 4, 5, 6])),
            Err(QuorumError::NoQuorum { cosigned }) if cosigned == ["W1", "W4", "W5", "W6"]
        ));
        assert!(p.verify(None, &note(&[])).is_err());
        assert!(policy("none").verify(None, &note(&[])).is_ok());
        assert!(
            policy("W2")
                .verify(Some(&log().verifier()), &note(&[2]))
                .is_ok()
        );
        assert!(
            policy("W2")
                .verify(Some(&log().verifier()), &note(&[1]))
                .is_err()
        );
    }

    #[test]
    fn a_forged_cosignature_by_a_known_witness_is_an_error() {
        let p = policy("W1");
        let good = note(&[1]);
        let line = good.lines().last().unwrap_or_default().to_owned();
        let forged = good.replace(
            &line,
            &line.replacen('A', "B", 1).replacen("AAAA", "AAAB", 1),
        );
        assert_ne!(forged, good);
        assert!(p.verify(None, &forged).is_err());
        // Unknown keys are ignored.
        let stranger =
            CosignerKey::from_seed("stranger", CosignerAlgorithm::Ed25519, [77; 32]).expect("name");
        let cp = Checkpoint::parse(&good[..good.find("\n\n").unwrap_or(0) + 1]).expect("body");
        let with_stranger = good + &stranger.cosign(&cp, 5).expect("cosigns");
        assert!(p.verify(None, &with_stranger).is_ok());
    }

    #[test]
    fn every_rule_of_the_syntax_is_enforced_with_its_line() {
        let w1 = witness(1).verifier().encode();
        let w2 = witness(2).verifier().encode();
        let cases: Vec<(String, usize, &str)> = vec![
            (format!("witness A {w1}\n"), 0, "no `quorum`"),
            (
                format!("witness A {w1}\nwitness B {w1}\nquorum A\n"),
                2,
                "listed twice",
            ),
            (
                format!("witness A {w1}\nwitness A {w2}\nquorum A\n"),
                2,
                "taken",
            ),
            (format!("witness none {w1}\nquorum none\n"), 1, "taken"),
            ("quorum A\n".into(), 1, "not defined above"),
            (
                format!("group G any A\nwitness A {w1}\nquorum G\n"),
                1,
                "not defined above",
            ),
            (
                format!("witness A {w1}\ngroup G 2 A\nquorum G\n"),
                2,
                "threshold",
            ),
            (
                format!("witness A {w1}\ngroup G 0 A\nquorum G\n"),
                2,
                "threshold",
            ),
            (
                format!("witness A {w1}\ngroup G any A A\nquorum G\n"),
                2,
                "listed twice",
            ),
            (
                format!("witness A {w1}\ngroup G any\nquorum G\n"),
                2,
                "at least one member",
            ),
            (format!("witness A {w1}\nquorum A\nquorum A\n"), 3, "second"),
            (format!("witness A {w1}\x0b\nquorum A\n"), 1, "0x0b"),
            (
                format!("witness A {}\nquorum A\n", log().verifier().encode()),
                1,
                "Ed25519 cosignature key",
            ),
            (format!("log {w1}\nquorum none\n"), 1, "signed-note key"),
            ("frobnicate\nquorum none\n".into(), 1, "unknown keyword"),
        ];
        for (text, line, words) in cases {
            let e = WitnessPolicy::parse(text.as_bytes()).expect_err(&text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.problem.contains(words), "{text}: {e}");
        }
        // Comments, blank lines, tabs and high bytes in names and comments are fine.
        let ok = format!("  # comment \u{e9}\n\n\twitness K\u{212a} {w1}\t\nquorum K\u{212a}\n");
        assert!(WitnessPolicy::parse(ok.as_bytes()).is_ok());
    }
}
