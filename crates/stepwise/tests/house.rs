//! The house rules that look across files, kept by tests as `tidy` keeps the per-file ones: no
//! import cycle between the modules of a crate; the pure core depends on no database and no
//! async runtime; no build output tracked by git; the size cap for JavaScript and Python files
//! too; every file path ARCHITECTURE.md's map names exists; no test function longer than
//! [`MAX_TEST_LINES`] (a longer one becomes named cases).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest script or page module (JavaScript, Python), in lines, as for Rust sources.
const MAX_SCRIPT_LINES: usize = 800;

/// Longest test function, in lines from its `fn` to its closing brace.
const MAX_TEST_LINES: usize = 100;

/// The repository's root (this crate is `crates/stepwise`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file under `dir` whose name ends with one of `endings`, build output, vendored code and
/// fixtures left out.
fn files(dir: &Path, endings: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            let skipped = [
                "target",
                "fixtures",
                ".git",
                "vendor",
                "node_modules",
                "__pycache__",
                "out",
            ];
            if !skipped.contains(&name.as_ref()) {
                files(&path, endings, out);
            }
        } else if endings.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// The names the modules of one crate use: `module → modules it names`, from `(file path under
/// src/, text)` pairs. A file belongs to the top-level module it is in (`src/m.rs` or
/// `src/m/…`); naming `crate::n` (or, from a top-level file, `super::n`) uses module `n`, or
/// the module whose item the crate root re-exports under that name (`pub use n::{A, B}`). A
/// child naming its parent (`super::` below the top level) stays within its module.
fn module_uses(sources: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules = BTreeSet::new();
    let mut roots = Vec::new();
    for (path, text) in sources {
        match path.split_once('/') {
            None if path == "lib.rs" || path == "main.rs" => roots.push(text.as_str()),
            None => {
                modules.insert(path.trim_end_matches(".rs").to_owned());
            }
            Some((dir, _)) => {
                modules.insert(dir.to_owned());
            }
        }
    }
    let mut reexported = BTreeMap::new();
    for root in roots {
        for line in root.lines() {
            let Some(rest) = line.trim().strip_prefix("pub use ") else {
                continue;
            };
            let Some((module, items)) = rest.split_once("::") else {
                continue;
            };
            if modules.contains(module) {
                for item in idents(items) {
                    reexported.insert(item, module.to_owned());
                }
            }
        }
    }
    let mut uses: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (path, text) in sources {
        let (module, top) = match path.split_once('/') {
            None if path == "lib.rs" || path == "main.rs" => continue,
            None => (path.trim_end_matches(".rs").to_owned(), true),
            Some((dir, rest)) => (dir.to_owned(), rest == "mod.rs"),
        };
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut named = paths_after(&code, "crate::");
        if top {
            named.extend(paths_after(&code, "super::"));
        }
        for name in named {
            let used = if modules.contains(&name) {
                Some(name)
            } else {
                reexported.get(&name).cloned()
            };
            if let Some(used) = used.filter(|u| *u != module)
                && let Some(set) = uses.get_mut(&module)
            {
                set.insert(used);
            }
        }
    }
    uses
}

/// The identifiers in `text`.
fn idents(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The first segment of every path that follows `prefix` in `code`: `crate::a::B` gives `a`,
/// `crate::{a::B, c}` gives `a` and `c`.
fn paths_after(code: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => return true,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    false
                })
                .map_or(group.len(), |(i, _)| i);
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain([',']) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if let Some(first) = idents(&item).into_iter().next() {
                            found.push(first);
                        }
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else if let Some(first) = idents(rest.split("::").next().unwrap_or("")).first() {
            found.push(first.clone());
        }
    }
    found
}

/// A cycle in `uses`, as the modules along it (the first repeated last), if there is one.
fn cycle(uses: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        uses: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut found = path[at..].to_vec();
            found.push(module.to_owned());
            return Some(found);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in uses.get(module).into_iter().flatten() {
            if let Some(found) = visit(next, uses, done, path) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    uses.keys()
        .find_map(|m| visit(m, uses, &mut done, &mut Vec::new()))
}

/// Every crate's `src/` as `(path under src/, text)` pairs.
fn crate_sources() -> Vec<(String, Vec<(String, String)>)> {
    let crates = root().join("crates");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&crates).expect("crates/").flatten() {
        let src = entry.path().join("src");
        let mut rust = Vec::new();
        files(&src, &[".rs"], &mut rust);
        let sources = rust
            .iter()
            .map(|p| {
                let rel = p.strip_prefix(&src).unwrap_or(p);
                let rel = rel.to_string_lossy().replace('\\', "/");
                (rel, std::fs::read_to_string(p).expect("readable"))
            })
            .collect();
        found.push((entry.file_name().to_string_lossy().into_owned(), sources));
    }
    found
}

#[test]
fn no_two_modules_of_a_crate_import_each_other_even_through_others() {
    let crates = crate_sources();
    assert!(crates.len() >= 6, "only {} crates found", crates.len());
    let cycles: Vec<String> = crates
        .iter()
        .filter_map(|(name, sources)| {
            cycle(&module_uses(sources)).map(|c| format!("{name}: {}", c.join(" → ")))
        })
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

/// What git tracks that is build output, a cache or an installed package.
fn build_output(tracked: &str) -> Vec<&str> {
    tracked
        .lines()
        .filter(|p| {
            p.starts_with("target/")
                || p.contains("/target/")
                || p.contains("__pycache__/")
                || p.ends_with(".pyc")
                || p.contains("node_modules/")
        })
        .collect()
}

#[test]
fn git_tracks_no_build_output() {
    let listed = std::process::Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["ls-files"])
        .output()
        .expect("git runs (the repository is a git checkout)");
    assert!(listed.status.success(), "git ls-files failed");
    let tracked = String::from_utf8_lossy(&listed.stdout);
    assert!(tracked.lines().count() > 100, "git lists too few files");
    let found = build_output(&tracked);
    assert!(found.is_empty(), "build output tracked by git: {found:?}");
}

/// The scripts and page modules longer than the cap.
fn too_long(scripts: &[(String, String)]) -> Vec<String> {
    scripts
        .iter()
        .filter(|(_, text)| text.lines().count() > MAX_SCRIPT_LINES)
        .map(|(path, text)| {
            format!(
                "{path}: {} lines; split it by job (at most {MAX_SCRIPT_LINES})",
                text.lines().count()
            )
        })
        .collect()
}

#[test]
fn javascript_and_python_files_are_held_to_the_size_cap() {
    let root = root();
    let mut paths = Vec::new();
    for dir in ["crates", "tests", "scripts"] {
        files(&root.join(dir), &[".js", ".py"], &mut paths);
    }
    assert!(paths.len() >= 8, "only {} scripts found", paths.len());
    let scripts: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let shown = p.strip_prefix(&root).unwrap_or(p).display().to_string();
            (shown, std::fs::read_to_string(p).expect("readable"))
        })
        .collect();
    let found = too_long(&scripts);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The repository paths a document names in backticks (`crates/…`, `tests/…`, `scripts/…`,
/// `docs/…`, `.ci/…`) that do not exist under `root`.
fn missing_paths(doc: &str, root: &Path) -> Vec<String> {
    doc.split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| {
            ["crates/", "tests/", "scripts/", "docs/", ".ci/"]
                .iter()
                .any(|r| t.starts_with(r))
                && !t.contains(' ')
                && !t.contains('*')
                && !t.contains('<')
        })
        .filter(|t| !root.join(t.trim_end_matches('/')).exists())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_path_the_architecture_map_names_exists() {
    let root = root();
    let map = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).expect("the map");
    assert!(
        map.matches("`crates/").count() > 10,
        "the map names few paths"
    );
    let missing = missing_paths(&map, &root);
    assert!(
        missing.is_empty(),
        "docs/ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

/// The test functions of `text` longer than [`MAX_TEST_LINES`]: `(name, lines)`.
fn long_tests(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let attribute = lines[i].trim_start();
        let is_test = attribute.starts_with("#[test]") || attribute.starts_with("#[tokio::test");
        if !is_test {
            i += 1;
            continue;
        }
        let Some(start) = (i + 1..lines.len()).find(|&j| lines[j].contains("fn ")) else {
            break;
        };
        let indent = lines[start].len() - lines[start].trim_start().len();
        let close = format!("{}}}", " ".repeat(indent));
        let end = (start + 1..lines.len())
            .find(|&j| lines[j].starts_with(&close) && lines[j].trim_end() == close.as_str())
            .unwrap_or(lines.len() - 1);
        let name = lines[start]
            .split("fn ")
            .nth(1)
            .and_then(|rest| rest.split('(').next())
            .unwrap_or("?")
            .to_owned();
        let length = end - start + 1;
        if length > MAX_TEST_LINES {
            found.push((name, length));
        }
        i = end + 1;
    }
    found
}

#[test]
fn no_test_function_is_longer_than_the_cap() {
    let mut rust = Vec::new();
    files(&root().join("crates"), &[".rs"], &mut rust);
    let found: Vec<String> = rust
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).expect("readable");
            long_tests(&text)
                .into_iter()
                .map(move |(name, n)| format!("{}: {name}: {n} lines", p.display()))
        })
        .collect();
    assert!(
        found.is_empty(),
        "test functions over {MAX_TEST_LINES} lines (make them named cases):\n{}",
        found.join("\n")
    );
}

/// The crates a dependency tree (`cargo tree --prefix none` lines) holds that the pure core must
/// never depend on: a database driver or an async runtime.
fn forbidden_in_core(tree: &str) -> Vec<String> {
    const FORBIDDEN: [&str; 6] = [
        "rusqlite",
        "libsqlite3-sys",
        "postgres",
        "tokio-postgres",
        "tokio",
        "sqlx",
    ];
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| FORBIDDEN.contains(name))
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn the_core_depends_on_no_database_and_no_async_runtime() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tree = std::process::Command::new(cargo)
        .current_dir(root())
        .args([
            "tree",
            "--offline",
            "-p",
            "stepwise",
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        tree.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&tree.stderr)
    );
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(
        tree.contains("ed25519-dalek"),
        "the tree lists the core's own dependencies"
    );
    let found = forbidden_in_core(&tree);
    assert!(found.is_empty(), "the core depends on {found:?}");
}

/// Each rule can fail: broken on purpose, it is reported.
#[test]
fn each_broken_house_rule_is_reported() {
    let file = |p: &str, t: &str| (p.to_owned(), t.to_owned());
    // A cycle through a re-export and a brace group; a child naming its parent is no cycle.
    let cyclic = [
        file("lib.rs", "pub use b::Thing;\n"),
        file("a.rs", "use crate::Thing;\n"),
        file("b/mod.rs", "use crate::{c::X, d};\n"),
        file("b/inner.rs", "use super::Thing;\n"),
        file("c.rs", "use super::a::Y;\n"),
        file("d.rs", "// use crate::a;\n"),
    ];
    assert_eq!(
        cycle(&module_uses(&cyclic)),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let acyclic = [
        file("a.rs", "use crate::b;\n"),
        file("b/mod.rs", "mod inner;\n"),
        file("b/inner.rs", "use super::super::a;\n"),
    ];
    assert_eq!(cycle(&module_uses(&acyclic)), None);
    // A database or a runtime in the core's tree.
    let tree = "stepwise v0.1.0\nsha2 v0.10.9\ntokio v1.54.1\nrusqlite v0.43.0 (*)\n";
    assert_eq!(forbidden_in_core(tree), ["rusqlite", "tokio"]);
    // Build output.
    let tracked = "src/lib.rs\ntests/mcp/__pycache__/common.cpython-311.pyc\ntarget/debug/x\n";
    assert_eq!(build_output(tracked).len(), 2);
    // Size caps.
    let long = "x = 1\n".repeat(MAX_SCRIPT_LINES + 1);
    assert_eq!(too_long(&[file("tests/long.py", &long)]).len(), 1);
    assert!(too_long(&[file("tests/short.py", "x = 1\n")]).is_empty());
    // The map.
    let root = root();
    let doc = "`crates/stepwise/src/lib.rs` and `crates/stepwise/src/gone.rs`, `a/b`";
    assert_eq!(missing_paths(doc, &root), ["crates/stepwise/src/gone.rs"]);
    // Long tests.
    let body = "    assert!(true);\n".repeat(MAX_TEST_LINES);
    let text = format!("#[test]\nfn long_story() {{\n{body}}}\n\n#[test]\nfn short() {{\n}}\n");
    assert_eq!(
        long_tests(&text),
        [("long_story".to_owned(), MAX_TEST_LINES + 2)]
    );
}
