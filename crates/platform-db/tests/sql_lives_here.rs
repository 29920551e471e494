//! All SQL of the platform lives in this crate: workers and the runtime glue hold none.

use std::path::{Path, PathBuf};

const KEYWORDS: [&str; 4] = ["SELECT", "INSERT", "UPDATE", "DELETE"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("build") && !path.ends_with("target") {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// Whether `line` holds a keyword as a whole word.
fn has_sql(line: &str) -> Option<&'static str> {
    let words = line.split(|c: char| !c.is_ascii_alphanumeric() && c != '_');
    words
        .into_iter()
        .find_map(|word| KEYWORDS.iter().copied().find(|k| *k == word))
}

#[test]
fn no_sql_outside_platform_db() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    rust_files(&root.join("workers"), &mut files);
    rust_files(&root.join("crates/platform-worker"), &mut files);
    assert!(
        files.len() > 10,
        "found only {} files under workers/",
        files.len()
    );
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if let Some(keyword) = has_sql(line) {
                found.push(format!("{}:{}: {keyword}", file.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL belongs in crates/platform-db:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_keyword_only_as_a_word() {
    assert_eq!(has_sql("\"SELECT id FROM t\""), Some("SELECT"));
    assert_eq!(has_sql("let updated = UPDATED_AT;"), None);
}
