//! The reader on scanned and typed forms: JPEG and CCITT G4 scans, an
//! AcroForm, a file holding two forms, and a re-scan that is upside down,
//! skewed, out of order and has a blank back page.

use crate::common::{
    assert_matches_truth, generated, pages_as_png, path, run, ACROFORM, G4_SCAN, JPEG_SCAN,
    TWO_FORMS, TYPED,
};
use guichet::reader::{Da100Reader, FormReader};

#[test]
fn a_jpeg_scan_reads_as_its_truth() {
    let reader = Da100Reader::new().unwrap();
    let (pdf, truth) = generated(JPEG_SCAN);
    let report = reader.read(&std::fs::read(pdf).unwrap()).unwrap();
    assert_matches_truth(&report, &truth);
    assert!(report
        .fields
        .values()
        .all(|f| (0.0..=1.0).contains(&f.confidence)));
}

#[test]
fn a_ccitt_g4_scan_reads_as_its_truth() {
    let reader = Da100Reader::new().unwrap();
    let (pdf, truth) = generated(G4_SCAN);
    let report = reader.read(&std::fs::read(pdf).unwrap()).unwrap();
    assert_matches_truth(&report, &truth);
}

#[test]
fn an_acroform_gives_its_field_values() {
    let reader = Da100Reader::new().unwrap();
    let (pdf, truth) = generated(ACROFORM);
    let report = reader.read(&std::fs::read(pdf).unwrap()).unwrap();
    assert_matches_truth(&report, &truth);
    // Values typed into fields are taken as typed, not OCR'd.
    assert!(report.fields.values().all(|f| f.confidence == 1.0));
}

#[test]
fn two_forms_in_one_file_are_counted() {
    let reader = Da100Reader::new().unwrap();
    let (pdf, _) = generated(TWO_FORMS);
    let report = reader.read(&std::fs::read(pdf).unwrap()).unwrap();
    assert_eq!((report.forms, report.pages), (2, 4));
}

#[test]
fn an_upside_down_skewed_rescan_with_a_blank_back_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (typed_form, truth) = generated(TYPED);
    let pages = pages_as_png(&typed_form, 200, dir.path());
    assert_eq!(pages.len(), 2);
    let turned = dir.path().join("turned.png");
    let skewed = dir.path().join("skewed.png");
    let blank = dir.path().join("blank.png");
    let pdf = dir.path().join("rescan.pdf");
    // Page 1 fed upside down; page 2 skewed 2.5° and shrunk to 94%.
    run(
        "/usr/bin/convert",
        &[path(&pages[0]), "-rotate", "180", path(&turned)],
    );
    run(
        "/usr/bin/convert",
        &[
            path(&pages[1]),
            "-background",
            "white",
            "-rotate",
            "2.5",
            "-resize",
            "94%",
            "-gravity",
            "center",
            "-extent",
            "1700x2200",
            "-quality",
            "85",
            path(&skewed).replace(".png", ".jpg").as_str(),
        ],
    );
    run(
        "/usr/bin/convert",
        &[
            "-size",
            "1700x2200",
            "xc:white",
            "-depth",
            "8",
            path(&blank),
        ],
    );
    let skewed = skewed.with_extension("jpg");
    // Page 2 first, then the blank back, then page 1.
    run(
        "img2pdf",
        &["-o", path(&pdf), path(&skewed), path(&blank), path(&turned)],
    );

    let reader = Da100Reader::new().unwrap();
    let report = reader.read(&std::fs::read(&pdf).unwrap()).unwrap();
    assert_eq!(report.pages, 3);
    assert_matches_truth(&report, &truth);
}

#[test]
fn a_typed_name_or_a_smudge_is_no_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (typed_form, _) = generated(TYPED);
    let pages = pages_as_png(&typed_form, 200, dir.path());
    let typed = dir.path().join("typed.png");
    let smudged = dir.path().join("smudged.png");
    let pdf = dir.path().join("unsigned.pdf");
    // At 200 dpi a point is 2.78 px: the employer box (60,600)-(340,660) pt
    // and the user box (60,404)-(340,464) pt, emptied inside, then given a
    // name set in a font, and a thumb smudge.
    run(
        "/usr/bin/convert",
        &[
            path(&pages[0]),
            "-fill",
            "white",
            "-draw",
            "rectangle 178,1678 933,1822",
            "-fill",
            "black",
            "-font",
            "DejaVu-Sans",
            "-density",
            "200",
            "-pointsize",
            "14",
            "-annotate",
            "+220+1790",
            "Fatima Fortin",
            path(&typed),
        ],
    );
    run(
        "/usr/bin/convert",
        &[
            path(&pages[1]),
            "-fill",
            "white",
            "-draw",
            "rectangle 178,1133 933,1278",
            "-fill",
            "gray25",
            "-draw",
            "ellipse 400,1205 45,28 0,360",
            path(&smudged),
        ],
    );
    run("img2pdf", &["-o", path(&pdf), path(&typed), path(&smudged)]);

    let reader = Da100Reader::new().unwrap();
    let report = reader.read(&std::fs::read(&pdf).unwrap()).unwrap();
    assert_eq!(report.forms, 1);
    assert!(
        !report.signatures.employer,
        "a typed name passed for a signature"
    );
    assert!(!report.signatures.user, "a smudge passed for a signature");
    // The original, handwritten, passes (same pages untouched).
    let original = reader.read(&std::fs::read(typed_form).unwrap()).unwrap();
    assert!(original.signatures.employer && original.signatures.user);
}
