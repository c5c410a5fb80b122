//! The pieces around the load: a scratch data directory, the `stepwise` command line, and
//! the server process under test.

use super::*;

pub(crate) struct Keys {
    pub(crate) reader: String,
    pub(crate) recorder: String,
}

/// The run's own directory (data directory and server log); removed when dropped.
pub(crate) struct WorkDir(PathBuf);

impl WorkDir {
    pub(crate) fn create(parent: Option<&Path>) -> Result<Self, String> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = parent.join(format!("stepwise-load-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("creating the work directory {}: {e}", dir.display()))?;
        Ok(Self(dir))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `stepwise` command line on the run's data directory.
pub(crate) struct Cli {
    pub(crate) bin: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) store: Option<String>,
}

impl Cli {
    pub(crate) fn run(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.bin)
            .arg("--data")
            .arg(&self.data)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", self.bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "stepwise {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        String::from_utf8(out.stdout).map_err(|e| format!("stepwise {}: {e}", args.join(" ")))
    }

    /// `stepwise import ARGS --json`: its report, when it recorded something (it exits 1 when
    /// some lines were refused).
    pub(crate) fn import(&self, args: &[&str]) -> Result<Value, String> {
        let out = Command::new(&self.bin)
            .arg("--data")
            .arg(&self.data)
            .arg("import")
            .args(args)
            .arg("--json")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", self.bin.display()))?;
        let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "stepwise import {}: no report ({e}): {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
        if report["recorded"].as_u64().unwrap_or(0) == 0 {
            return Err(format!(
                "stepwise import {}: nothing recorded: {report}",
                args.join(" ")
            ));
        }
        Ok(report)
    }

    /// Creates an API key; returns its text.
    pub(crate) fn key(&self, role: &str, principal: Option<&str>) -> Result<String, String> {
        let mut args = vec!["key", "create", "--role", role, "--json"];
        if let Some(p) = principal {
            args.extend(["--principal", p]);
        }
        if let Some(s) = &self.store {
            args.extend(["--store", s]);
        }
        let out = self.run(&args)?;
        let value: Value = serde_json::from_str(&out)
            .map_err(|e| format!("`key create` printed no JSON ({e}): {out:?}"))?;
        value["key"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("`key create` printed no key: {out:?}"))
    }
}

/// The `stepwise serve` process; killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) log: PathBuf,
}

impl Server {
    pub(crate) fn start(o: &Options, data: &Path, log: &Path) -> Result<Self, String> {
        let stderr = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = Command::new(&o.bin);
        command
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            // Lift the per-key rate limit: it would measure the limiter, not the server.
            .args(["--rate", "1e9", "--burst", "1e9"]);
        if let Some(store) = &o.store {
            command.args(["--store", store]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", o.bin.display()))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout of the server")?;
        let read = BufReader::new(stdout).read_line(&mut line);
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok());
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: log.to_owned(),
        };
        match (read, addr) {
            (Ok(_), Some(addr)) => {
                server.addr = addr;
                Ok(server)
            }
            _ => Err(format!(
                "the server printed no address ({line:?}): {}",
                server.log_tail()
            )),
        }
    }

    /// The end of the server's standard error, for failure messages.
    pub(crate) fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        if tail.is_empty() {
            "(empty)".into()
        } else {
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `stepwise witness serve` processes the server submits its checkpoints to; killed when
/// dropped.
pub(crate) struct Witnesses(Vec<Child>);

impl Witnesses {
    /// Starts `o.witnesses` witnesses of the log in `data` and names them, quorum all, in the
    /// data directory's `[witness] policy`.
    pub(crate) fn start(o: &Options, data: &Path, work: &Path) -> Result<Self, String> {
        let mut children = Vec::new();
        let mut policy = String::new();
        for n in 0..o.witnesses {
            let mut child = Command::new(&o.bin)
                .args(["witness", "serve", "--addr", "127.0.0.1:0", "--name"])
                .arg(format!("w{n}.load"))
                .arg("--dir")
                .arg(work.join(format!("witness-{n}")))
                .arg("--log")
                .arg(data.join("log.pub"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("starting a witness: {e}"))?;
            let mut line = String::new();
            let stdout = child.stdout.take().ok_or("no stdout of the witness")?;
            BufReader::new(stdout)
                .read_line(&mut line)
                .map_err(|e| format!("reading the witness's address: {e}"))?;
            let addr = line
                .split("http://")
                .nth(1)
                .and_then(|r| r.split_whitespace().next());
            let vkey = line.split("(key ").nth(1).and_then(|r| r.split(';').next());
            let (Some(addr), Some(vkey)) = (addr, vkey) else {
                return Err(format!("the witness printed no address and key: {line:?}"));
            };
            policy.push_str(&format!("witness W{n} {vkey} http://{addr}\n"));
            children.push(child);
        }
        if o.witnesses > 0 {
            let names: Vec<String> = (0..o.witnesses).map(|n| format!("W{n}")).collect();
            policy.push_str(&format!("group all all {}\nquorum all\n", names.join(" ")));
            let write = |path: PathBuf, text: &str| {
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
            };
            write(data.join("witnesses.txt"), &policy)?;
            let toml = data.join("stepwise.toml");
            let text = std::fs::read_to_string(&toml).map_err(|e| e.to_string())?;
            write(
                toml,
                &format!("{text}\n[witness]\npolicy = \"witnesses.txt\"\n"),
            )?;
        }
        Ok(Self(children))
    }
}

impl Drop for Witnesses {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
