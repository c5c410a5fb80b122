//! A stepwise data directory: the files one installation keeps, and how they are created.
//!
//! ```text
//! stepwise-data/
//!   stepwise.toml   the policy (documented defaults written by init)
//!   log.key         the log's ed25519 signing key (PRIVATE+KEY+… text, mode 0600)
//!   log.pub         the matching verifier key, for anyone who checks checkpoints
//!   ledger.sqlite   the log: entries and signed checkpoints (plus SQLite's -wal and -shm)
//! ```
//!
//! Creating a directory never overwrites an existing key: losing the log key would orphan every
//! checkpoint ever signed.

use crate::ledger::{Ledger, LedgerError};
use crate::names::Names;
use crate::{SqliteStore, StoreError};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use stepwise::evidence::Id;
use stepwise::ledger::note::{LogSigner, LogVerifier, NoteError};
use stepwise::policy::{DEFAULT_POLICY, Policy, PolicyError, default_policy_with_seeds};

/// Why a data directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// There is no stepwise data here yet.
    #[error("no stepwise data in {0}: run `stepwise init` first (or pass --data DIR)")]
    NotInitialized(PathBuf),
    /// `init` found an existing installation.
    #[error("{0} already holds a stepwise log key; refusing to overwrite it")]
    AlreadyInitialized(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A key file is malformed.
    #[error("{path}: {source}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        source: NoteError,
    },
    /// The policy file is malformed.
    #[error("{path}: {source}")]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// What is wrong with it.
        source: PolicyError,
    },
    /// The ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A data directory on disk.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The directory at `root` (which need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The policy file.
    pub fn policy_path(&self) -> PathBuf {
        self.root.join("stepwise.toml")
    }

    /// The log's signing key.
    pub fn key_path(&self) -> PathBuf {
        self.root.join("log.key")
    }

    /// The log's verifier key.
    pub fn verifier_path(&self) -> PathBuf {
        self.root.join("log.pub")
    }

    /// The SQLite store.
    pub fn store_path(&self) -> PathBuf {
        self.root.join("ledger.sqlite")
    }

    /// True when the directory holds a log key.
    pub fn is_initialized(&self) -> bool {
        self.key_path().exists()
    }

    /// Creates the directory, a new log key named `origin` (a random one when `None`), the
    /// default policy with `seeds` named (unless a policy is there) and an empty log with its
    /// first checkpoint.
    pub fn init(&self, origin: Option<&str>, seeds: &[Id]) -> Result<LogVerifier, DataDirError> {
        let verifier = self.create_with(origin, &default_policy_with_seeds(seeds))?;
        // Opening writes the empty log's first checkpoint; nothing is stamped, so no clock is read.
        self.open_ledger(std::sync::Arc::new(stepwise::ledger::SystemClock))?;
        Ok(verifier)
    }

    /// Creates the directory, a new log key and the default policy (unless one is there), but
    /// no store: for a server whose log lives in PostgreSQL.
    pub fn create(&self, origin: Option<&str>) -> Result<LogVerifier, DataDirError> {
        self.create_with(origin, DEFAULT_POLICY)
    }

    fn create_with(&self, origin: Option<&str>, policy: &str) -> Result<LogVerifier, DataDirError> {
        if self.is_initialized() {
            return Err(DataDirError::AlreadyInitialized(self.root.clone()));
        }
        fs::create_dir_all(&self.root).map_err(|source| DataDirError::Io {
            path: self.root.clone(),
            source,
        })?;
        let origin = match origin {
            Some(o) => o.to_owned(),
            None => {
                let mut tag = [0u8; 8];
                getrandom::fill(&mut tag).map_err(|e| DataDirError::Io {
                    path: self.key_path(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
                format!("stepwise.local/log/{hex}")
            }
        };
        let signer = LogSigner::generate(&origin).map_err(|source| DataDirError::Key {
            path: self.key_path(),
            source,
        })?;
        write_new(&self.key_path(), &format!("{}\n", signer.encode()), true)?;
        let verifier = signer.verifier();
        write_new(
            &self.verifier_path(),
            &format!("{}\n", verifier.encode()),
            false,
        )?;
        if !self.policy_path().exists() {
            write_new(&self.policy_path(), policy, false)?;
        }
        Ok(verifier)
    }

    /// The policy in force (the default when the file is absent).
    pub fn policy(&self) -> Result<Policy, DataDirError> {
        let path = self.policy_path();
        match fs::read_to_string(&path) {
            Ok(text) => {
                Policy::from_toml(&text).map_err(|source| DataDirError::Policy { path, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Policy::default()),
            Err(source) => Err(DataDirError::Io { path, source }),
        }
    }

    /// The log's verifier key, as kept in `log.pub`.
    pub fn verifier(&self) -> Result<LogVerifier, DataDirError> {
        let path = self.verifier_path();
        let text = self.read(&path)?;
        LogVerifier::parse(text.trim()).map_err(|source| DataDirError::Key { path, source })
    }

    /// The store alone, for read-only work such as verification.
    pub fn open_store(&self) -> Result<SqliteStore, DataDirError> {
        if !self.is_initialized() {
            return Err(DataDirError::NotInitialized(self.root.clone()));
        }
        Ok(SqliteStore::open(&self.store_path())?)
    }

    /// The log's signing key, as kept in `log.key`.
    pub fn signer(&self) -> Result<LogSigner, DataDirError> {
        let path = self.key_path();
        LogSigner::parse(self.read(&path)?.trim())
            .map_err(|source| DataDirError::Key { path, source })
    }

    /// The ledger, ready to append, stamping entries with `clock`.
    pub fn open_ledger(
        &self,
        clock: std::sync::Arc<dyn stepwise::ledger::Clock>,
    ) -> Result<Ledger<SqliteStore>, DataDirError> {
        let signer = self.signer()?;
        let (store, names, policy) = self.open_named()?;
        Ok(Ledger::open_sealing(
            store,
            signer,
            policy.ledger,
            clock,
            names,
        )?)
    }

    /// The SQLite store, its log's names (ids ↔ pseudonyms) and the policy in those names
    /// (its seeds, operators and trusters as the log names them): what a one-shot command folds
    /// and answers with.
    pub fn open_named(&self) -> Result<(SqliteStore, std::sync::Arc<Names>, Policy), DataDirError> {
        let policy = self.policy()?;
        let mut store = self.open_store()?;
        let names = Names::open(&store)?;
        let policy = names.name_policy(&mut store, &policy)?;
        Ok((store, std::sync::Arc::new(names), policy))
    }

    fn read(&self, path: &Path) -> Result<String, DataDirError> {
        if !self.is_initialized() {
            return Err(DataDirError::NotInitialized(self.root.clone()));
        }
        fs::read_to_string(path).map_err(|source| DataDirError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

/// Writes a file that must not exist yet, synced to disk; `secret` files are readable by the
/// owner only.
fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), DataDirError> {
    let io = |source| DataDirError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}
