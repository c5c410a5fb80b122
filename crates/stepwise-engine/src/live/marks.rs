//! The journal's standing marks, paged out of memory: one mark per event about a principal is
//! the one part of the live state that grows with the log itself rather than with its
//! principals and pairs (32 bytes an event, 3.2 GB at 10^8 events), and it is read only to
//! chart one principal at a time. So every mark goes, in fold order, to an unnamed temporary
//! file (in `TMPDIR`, gone with the process), each record linked to the same principal's
//! previous one; memory keeps each principal's last record and the newest records not yet
//! written. Reading a principal's marks follows its links back: one read per mark, from the
//! page cache while the file fits in it.
//!
//! Where no temporary file can be made or written, every mark stays in memory, as before; a
//! warning says so once. The marks are a view: nothing here is stored, and each process makes
//! its own file anew from the log.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use stepwise::evidence::Time;
use stepwise::model::StandingMark;

/// A principal's standing just after one event about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// The event's instant.
    pub at: Time,
    /// The evidence about the principal then.
    pub mark: StandingMark,
}

/// How many records are written at once (160 KiB).
const WRITE_EVERY: usize = if cfg!(test) { 3 } else { 4_096 };

/// A record's size: the previous record's number plus one (0: none), the instant, the mark.
const RECORD: usize = 8 + 8 + StandingMark::BYTES;

/// No record yet.
const NONE: u64 = 0;

/// Every principal's marks, in a file and the newest in memory (see the module docs).
#[derive(Debug, Default)]
pub struct Marks {
    /// Where records `0..written` are; `None` before the first write.
    file: Option<File>,
    /// Whether the file could not be made or written: every record from `written` on stays
    /// in `tail`.
    in_memory: bool,
    written: u64,
    /// Records `written..`, with their links.
    tail: Vec<(u64, Mark)>,
    /// Per principal, its last record's number plus one, and that record's instant.
    last: Vec<(u64, Time)>,
}

impl Marks {
    /// Marks principal `s`'s standing `mark` after an event at `at`, charted never before the
    /// principal's previous mark (an event dated before one logged ahead of it, within the
    /// log's window, is charted from the later instant).
    pub fn push(&mut self, s: u32, at: Time, mark: StandingMark) {
        let i = s as usize;
        if self.last.len() <= i {
            self.last.resize(i + 1, (NONE, Time::MIN));
        }
        let (prev, prev_at) = self.last[i];
        let at = if prev == NONE { at } else { prev_at.max(at) };
        self.tail.push((prev, Mark { at, mark }));
        self.last[i] = (self.written + self.tail.len() as u64, at);
        if self.tail.len() >= WRITE_EVERY && !self.in_memory {
            self.write_tail();
        }
    }

    /// Writes the records in memory to the file, making it first if need be; on failure keeps
    /// them, and every later one, in memory (the file keeps those written before).
    fn write_tail(&mut self) {
        let file = match &self.file {
            Some(file) => Ok(file),
            None => tempfile::tempfile().map(|file| &*self.file.insert(file)),
        };
        let mut bytes = Vec::with_capacity(self.tail.len() * RECORD);
        for (prev, m) in &self.tail {
            bytes.extend_from_slice(&prev.to_le_bytes());
            bytes.extend_from_slice(&m.at.as_micros().to_le_bytes());
            bytes.extend_from_slice(&m.mark.to_bytes());
        }
        let offset = self.written * RECORD as u64;
        match file.and_then(|file| file.write_all_at(&bytes, offset)) {
            Ok(()) => {
                self.written += self.tail.len() as u64;
                self.tail.clear();
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "the dashboard's standing marks stay in memory from now on: the temporary \
                     file (TMPDIR) could not be made or written"
                );
                self.in_memory = true;
            }
        }
    }

    /// The marks of principal `s`, in log order.
    pub fn of(&self, s: u32) -> io::Result<Vec<Mark>> {
        let mut out = Vec::new();
        let mut next = self.last.get(s as usize).map_or(NONE, |l| l.0);
        let mut record = [0; RECORD];
        while next != NONE {
            let n = next - 1;
            let (prev, mark) = match n.checked_sub(self.written) {
                Some(t) => self.tail[t as usize],
                None => {
                    let file = self
                        .file
                        .as_ref()
                        .ok_or_else(|| io::Error::other("no file"))?;
                    file.read_exact_at(&mut record, n * RECORD as u64)?;
                    decode(&record)?
                }
            };
            out.push(mark);
            next = prev;
        }
        out.reverse();
        Ok(out)
    }
}

/// The record these bytes hold: its link and its mark.
fn decode(record: &[u8; RECORD]) -> io::Result<(u64, Mark)> {
    let word = |i: usize| {
        let mut w = [0; 8];
        w.copy_from_slice(&record[i..i + 8]);
        w
    };
    let mut mark = [0; StandingMark::BYTES];
    mark.copy_from_slice(&record[16..]);
    let at = Time::from_micros(i64::from_le_bytes(word(8)))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a mark's instant"))?;
    let mark = StandingMark::from_bytes(&mark);
    Ok((u64::from_le_bytes(word(0)), Mark { at, mark }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use stepwise::evidence::{Event, Id};
    use stepwise::ladder::{Ladder, LadderState};
    use stepwise::model::params::ModelParams;

    /// Marks of a real state: principal `s`'s standing after `n` ratings of it.
    fn standing(state: &mut LadderState, s: u32, index: u64) -> StandingMark {
        let line = format!(
            r#"{{"kind":"rating","at":"2026-01-01T00:00:{:02}Z","rater":"r{index}","subject":"p{s}","value":1}}"#,
            index % 60
        );
        let event = Event::from_json(&line).expect("a rating");
        state.apply(index, &event);
        let subject = Id::parse("subject", &format!("p{s}")).expect("an id");
        let subject = state.trust().principal_index(&subject).expect("rated");
        state.trust().standing_mark(subject)
    }

    proptest! {
        /// Whatever the order principals are marked in, and whether the records went to the
        /// file or stayed in memory, each principal's marks read back are the ones pushed, in
        /// order, with instants that never go back.
        #[test]
        fn marks_read_back_as_pushed(
            pushes in proptest::collection::vec((0_u32..5, 0_i64..100), 0..40),
            in_memory: bool,
        ) {
            let mut state = LadderState::new(ModelParams::default(), Ladder::default());
            let mut marks = Marks { in_memory, ..Marks::default() };
            let mut expected: Vec<Vec<Mark>> = vec![Vec::new(); 5];
            for (index, (s, at)) in pushes.into_iter().enumerate() {
                let mark = standing(&mut state, s, index as u64);
                let at = Time::from_micros(1_000_000 * at).expect("an instant");
                marks.push(s, at, mark);
                let mine = &mut expected[s as usize];
                let at = mine.last().map_or(at, |m| m.at.max(at));
                mine.push(Mark { at, mark });
            }
            prop_assert_eq!(marks.file.is_some(), !in_memory && marks.written > 0);
            for (s, mine) in expected.iter().enumerate() {
                prop_assert_eq!(&marks.of(s as u32).expect("read"), mine);
            }
            prop_assert!(marks.of(99).expect("read").is_empty());
        }
    }

    /// A file that stops taking writes keeps what it took, and the rest stays in memory: every
    /// mark still reads back.
    #[test]
    fn a_file_that_fails_keeps_what_it_took() {
        let named = tempfile::NamedTempFile::new().expect("a temporary file");
        let mut state = LadderState::new(ModelParams::default(), Ladder::default());
        let mut marks = Marks {
            file: Some(named.reopen().expect("reopened")),
            ..Marks::default()
        };
        let at = |k: i64| Time::from_micros(1_000_000 * k).expect("an instant");
        let mut pushed = Vec::new();
        for k in 0..4 {
            let mark = standing(&mut state, 0, k as u64);
            marks.push(0, at(k), mark);
            pushed.push(Mark { at: at(k), mark });
        }
        assert_eq!(marks.written, 3);
        // The same file, read-only: the next write fails.
        marks.file = Some(File::open(named.path()).expect("opened read-only"));
        for k in 4..11 {
            let mark = standing(&mut state, 0, k as u64);
            marks.push(0, at(k), mark);
            pushed.push(Mark { at: at(k), mark });
        }
        assert!(marks.in_memory);
        assert_eq!((marks.written, marks.tail.len()), (3, 8));
        assert_eq!(marks.of(0).expect("read"), pushed);
    }
}
