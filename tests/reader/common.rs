//! Shared helpers for the reader tests: the shared corpus and its truth,
//! and small PDFs made on the fly with Debian's tools.

#![allow(dead_code)] // each test file uses its own part of these helpers

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// The shared material: `../shared` beside the clone (as CI lays it out),
/// else the development machine's `/work/shared`.
pub fn shared() -> PathBuf {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if beside.join("corpus/forms/truth.json").exists() {
        beside
    } else {
        PathBuf::from("/work/shared")
    }
}

pub fn corpus_pdf(file: &str) -> Vec<u8> {
    std::fs::read(shared().join("corpus/forms").join(file)).expect("corpus PDF")
}

#[derive(Deserialize)]
pub struct Truth {
    pub file: String,
    pub forms: u32,
    pub service: Option<String>,
    pub signatures: guichet::domain::Signatures,
    pub fields: std::collections::BTreeMap<String, String>,
}

pub fn truth(file: &str) -> Truth {
    let all: Vec<Truth> = serde_json::from_slice(
        &std::fs::read(shared().join("corpus/forms/truth.json")).expect("truth.json"),
    )
    .expect("truth.json parses");
    all.into_iter()
        .find(|t| t.file == file)
        .expect("file in truth.json")
}

/// Runs a tool, failing the test with its stderr if it fails.
pub fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The pages of a corpus PDF as grey PNG files at `dpi`, in `dir`.
pub fn pages_as_png(file: &str, dpi: u32, dir: &Path) -> Vec<PathBuf> {
    let src = shared().join("corpus/forms").join(file);
    let root = dir.join("page");
    run(
        "pdftoppm",
        &[
            "-r",
            &dpi.to_string(),
            "-gray",
            "-png",
            path(&src),
            path(&root),
        ],
    );
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("page-"))
        })
        .collect();
    pages.sort();
    pages
}

/// Asserts that a report agrees with the truth of a form with no flaw:
/// same count, service and signatures; every value read is the true one
/// (never a guess); a true value not read is flagged illegible, and at
/// most one field is (OCR may hesitate, it may not invent).
pub fn assert_matches_truth(report: &guichet::domain::FormReport, truth: &Truth) {
    assert_eq!(report.forms, truth.forms, "forms");
    assert_eq!(
        report.service().map(str::to_string),
        truth.service,
        "service: ticked {:?}",
        report.ticked
    );
    assert_eq!(report.signatures, truth.signatures, "signatures");
    for (id, reading) in &report.fields {
        assert_eq!(
            Some(&reading.value),
            truth.fields.get(id),
            "{id} (confidence {})",
            reading.confidence
        );
    }
    for id in truth
        .fields
        .keys()
        .filter(|id| !report.fields.contains_key(*id))
    {
        assert!(
            report.illegible.contains(id),
            "{id} neither read nor illegible"
        );
    }
    assert!(
        report.illegible.len() <= 1,
        "illegible: {:?}",
        report.illegible
    );
}
