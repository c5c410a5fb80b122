//! The house rules, kept by a test (as rust-analyzer's tidy test keeps its own): every Rust file
//! of the workspace opens with a `//!` doc saying what it is for; no test is `#[ignore]`d; no
//! clippy lint is allowed without a comment saying why; no source file outside `tests/` grows
//! past 800 lines (its own `#[cfg(test)]` module aside).

use std::path::{Path, PathBuf};

/// Longest source file, in lines before its test module.
const MAX_LINES: usize = 800;

/// What is wrong with one file, in words; empty when it keeps every rule.
fn problems(path: &Path, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let name = path.display();
    if !text.starts_with("//!") {
        found.push(format!(
            "{name}: does not open with a `//!` doc saying what it is for"
        ));
    }
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        // The rules' own spelling (in strings and docs) is not a use of them.
        if code.starts_with("//") || code.starts_with('"') {
            continue;
        }
        if code.starts_with("#[ignore") {
            found.push(format!(
                "{name}:{}: `#[ignore]`: a test that does not run cannot fail",
                i + 1
            ));
        }
        if code.starts_with("#[allow(clippy::") || code.starts_with("#![allow(clippy::") {
            let above = i.checked_sub(1).map(|j| lines[j].trim_start());
            let said_why = line.contains("//")
                || above.is_some_and(|l| l.starts_with("//") && !l.starts_with("///"));
            if !said_why {
                found.push(format!(
                    "{name}:{}: a clippy lint allowed without a `//` comment saying why",
                    i + 1
                ));
            }
        }
    }
    let in_tests = path.components().any(|c| c.as_os_str() == "tests");
    let before_tests = lines
        .iter()
        .position(|l| l.starts_with("#[cfg(test)]"))
        .unwrap_or(lines.len());
    if !in_tests && before_tests > MAX_LINES {
        found.push(format!(
            "{name}: {before_tests} lines outside its tests; split it by job (at most {MAX_LINES})"
        ));
    }
    found
}

/// Every `.rs` file under `dir`, build output and fixtures left out.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if !matches!(name.to_str(), Some("target" | "fixtures" | ".git")) {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_workspace_keeps_the_house_rules() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&crates, &mut files);
    assert!(files.len() > 50, "only {} Rust files found", files.len());
    let found: Vec<String> = files
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).expect("readable");
            let shown = path.strip_prefix(&crates).unwrap_or(path);
            problems(shown, &text)
        })
        .collect();
    assert!(
        found.is_empty(),
        "house rules broken:\n{}",
        found.join("\n")
    );
}

/// The tidy test itself can fail: each rule, broken on purpose, is reported.
#[test]
fn each_broken_rule_is_reported() {
    let src = Path::new("crates/x/src/lib.rs");
    let good =
        "//! A room.\n\n// Why: a reason.\n#[allow(clippy::too_many_arguments)]\nfn f() {}\n";
    assert_eq!(problems(src, good), Vec::<String>::new());
    let cases: [(&str, String); 4] = [
        ("`//!` doc", "fn f() {}\n".to_owned()),
        ("#[ignore]", "//! A room.\n#[test]\n#[ignore]\nfn t() {}\n".to_owned()),
        (
            "without a `//` comment",
            "//! A room.\n/// Docs are not a reason.\n#[allow(clippy::too_many_arguments)]\nfn f() {}\n"
                .to_owned(),
        ),
        (
            "split it by job",
            format!("//! A room.\n{}", "fn f() {}\n".repeat(MAX_LINES + 1)),
        ),
    ];
    for (rule, text) in &cases {
        let found = problems(src, text);
        assert!(found.iter().any(|p| p.contains(rule)), "{rule}: {found:?}");
    }
    // Long tests are fine; a long test module at the end of a source file is not counted.
    let long = "fn t() {}\n".repeat(MAX_LINES + 1);
    assert!(
        problems(
            Path::new("crates/x/tests/t.rs"),
            &format!("//! Tests.\n{long}")
        )
        .is_empty()
    );
    assert!(
        problems(
            src,
            &format!("//! A room.\n#[cfg(test)]\nmod tests {{\n{long}}}\n")
        )
        .is_empty()
    );
}
