//! Helpers for the reader tests: forms made by the project's own generator
//! (see `tests/support/corpus.rs`) with their truth, and small PDFs made on
//! the fly with Debian's tools.

#![allow(dead_code)] // each test file uses its own part of these helpers

use std::path::{Path, PathBuf};

pub use crate::corpus::Truth;

/// What the forms below are made with besides their kind: one form, the
/// same people each time, no flaw unless the kind says one.
const EVERY_FORM: &str = "--seed 4 --count 1";

/// A clean 300-dpi office scan, JPEG in the PDF (img2pdf), one side.
pub const JPEG_SCAN: &str = "--production scan --wrapper img2pdf --dpi 300 --simplex";
/// A 300-dpi black-and-white scan, CCITT G4 in the PDF (tiff2pdf).
pub const G4_SCAN: &str = "--production scan --wrapper tiff-g4 --dpi 300 --simplex";
/// A form typed and signed on screen, never printed: rasterised, the pages
/// a re-scan is made of (their pixels are where the layout says).
pub const TYPED: &str = "--production digital";
/// A filled AcroForm, never printed.
pub const ACROFORM: &str = "--production acroform";
/// Two typed forms in one file.
pub const TWO_FORMS: &str = "--production digital --flaws multi_form";

/// The form the generator makes of this kind, and its truth.
pub fn generated(kind: &str) -> (PathBuf, Truth) {
    let flaws = if kind.contains("--flaws") {
        ""
    } else {
        "--flaws none"
    };
    let line = format!("{EVERY_FORM} {flaws} {kind}");
    let args: Vec<&str> = line.split_whitespace().collect();
    let forms = crate::corpus::forms(&args);
    (forms.path(0), forms.truth[0].clone())
}

pub fn generated_pdf(kind: &str) -> Vec<u8> {
    std::fs::read(generated(kind).0).expect("generated PDF")
}

/// Runs a tool, failing the test with its stderr if it fails.
pub fn run(program: &str, args: &[&str]) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    crate::corpus::tool(program, &args);
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
