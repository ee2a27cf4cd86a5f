//! Helpers for the reader tests: forms made by the project's own generator
//! (see `tests/support/corpus.rs`) with their truth, and small PDFs made on
//! the fly with Debian's tools.

#![allow(dead_code)] // each test file uses its own part of these helpers

use std::path::{Path, PathBuf};
use std::process::Command;

pub use crate::corpus::Truth;

/// A clean 300-dpi office scan, JPEG in the PDF (img2pdf), one side.
pub const JPEG_SCAN: &[&str] = &[
    "--seed",
    "4",
    "--count",
    "1",
    "--flaws",
    "none",
    "--production",
    "scan",
    "--wrapper",
    "img2pdf",
    "--dpi",
    "300",
    "--simplex",
];
/// A 300-dpi black-and-white scan, CCITT G4 in the PDF (tiff2pdf).
pub const G4_SCAN: &[&str] = &[
    "--seed",
    "4",
    "--count",
    "1",
    "--flaws",
    "none",
    "--production",
    "scan",
    "--wrapper",
    "tiff-g4",
    "--dpi",
    "300",
    "--simplex",
];
/// A form typed and signed on screen, never printed: rasterised, the pages
/// a re-scan is made of (their pixels are where the layout says).
pub const TYPED: &[&str] = &[
    "--seed",
    "4",
    "--count",
    "1",
    "--flaws",
    "none",
    "--production",
    "digital",
];
/// A filled AcroForm, never printed.
pub const ACROFORM: &[&str] = &[
    "--seed",
    "4",
    "--count",
    "1",
    "--flaws",
    "none",
    "--production",
    "acroform",
];
/// Two typed forms in one file.
pub const TWO_FORMS: &[&str] = &[
    "--seed",
    "4",
    "--count",
    "1",
    "--flaws",
    "multi_form",
    "--production",
    "digital",
];

/// The first form the generator makes with these arguments, and its truth.
pub fn generated(args: &[&str]) -> (PathBuf, Truth) {
    let forms = crate::corpus::forms(args);
    (forms.path(0), forms.truth[0].clone())
}

pub fn generated_pdf(args: &[&str]) -> Vec<u8> {
    std::fs::read(generated(args).0).expect("generated PDF")
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

/// The pages of a PDF as grey PNG files at `dpi`, in `dir`.
pub fn pages_as_png(src: &Path, dpi: u32, dir: &Path) -> Vec<PathBuf> {
    let root = dir.join("page");
    run(
        "pdftoppm",
        &[
            "-r",
            &dpi.to_string(),
            "-gray",
            "-png",
            path(src),
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
