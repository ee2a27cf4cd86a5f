//! The reader on what a phone or a careless hand makes of a form: a page
//! photographed at an angle (a projective map, not an affine one), a page
//! cut off through its fields (`incomplete_scan`, never `missing_field`),
//! and a page framed so that only the QR code and one corner square show.

use crate::common::{assert_matches_truth, generated, pages_as_png, path, run, TYPED};
use guichet::domain::{FormReport, Reason};
use guichet::reader::{Da100Reader, FormReader};
use guichet::rules::{decide, Registry, RequestKey, RoleList};

/// The typed form's two pages at 200 dpi (1700 × 2200 px), page 1 and
/// page 2 after `edit` made each into a JPEG, read as one PDF.
fn read_edited(edit: [&[&str]; 2]) -> (FormReport, crate::common::Truth) {
    let dir = tempfile::tempdir().unwrap();
    let (typed_form, truth) = generated(TYPED);
    let pages = pages_as_png(&typed_form, 200, dir.path());
    let mut edited = Vec::new();
    for (n, (page, args)) in pages.iter().zip(edit).enumerate() {
        let out = dir.path().join(format!("edited-{n}.jpg"));
        let mut all = vec![path(page)];
        all.extend(args);
        all.extend(["-quality", "85", path(&out)]);
        run("/usr/bin/convert", &all);
        edited.push(out);
    }
    let pdf = dir.path().join("edited.pdf");
    run(
        "img2pdf",
        &["-o", path(&pdf), path(&edited[0]), path(&edited[1])],
    );
    let report = Da100Reader::new()
        .unwrap()
        .read(&std::fs::read(&pdf).unwrap())
        .unwrap();
    (report, truth)
}

struct NoOneOnFile;

impl Registry for NoOneOnFile {
    fn people_with_email(&self, _: &str) -> Vec<guichet::rules::Person> {
        Vec::new()
    }
    fn has_active_request(&self, _: &RequestKey) -> bool {
        false
    }
}

fn reasons(report: &FormReport) -> Vec<Reason> {
    let today = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
    decide(report, &NoOneOnFile, &RoleList::builtin(), today)
}

#[test]
fn a_page_photographed_at_an_angle_reads_as_its_truth() {
    // Page 2 seen from below and to the side: its corners move unevenly,
    // on a grey table.
    let (report, truth) = read_edited([
        &[],
        &[
            "-background",
            "gray45",
            "-virtual-pixel",
            "background",
            "-distort",
            "Perspective",
            "0,0 90,60  1700,0 1580,110  0,2200 40,2150  1700,2200 1660,2100",
        ],
    ]);
    assert_matches_truth(&report, &truth);
    assert!(report.unseen.is_empty(), "{:?}", report.unseen);
}

#[test]
fn a_page_cut_off_through_its_fields_is_an_incomplete_scan() {
    // Page 2 keeps its top 58 %: the user's signature and date boxes
    // (404–464 pt of 792) are cut through.
    let (report, _) = read_edited([&[], &["-crop", "1700x1276+0+0", "+repage"]]);
    assert_eq!(
        report.unseen.get("user.date"),
        Some(&2),
        "{:?}",
        report.unseen
    );
    assert_eq!(report.unseen.get("user.signature"), Some(&2));
    assert_eq!(reasons(&report), [Reason::IncompleteScan(vec![2])]);
}

#[test]
fn a_page_showing_only_its_qr_code_and_one_corner_square_is_read() {
    // Page 1 pushed up and left: three corner squares out of the picture
    // (their centres sit 29 pt from the edges; 44 pt are cut off).
    let (report, truth) = read_edited([&["-crop", "1578x2078+122+122", "+repage"], &[]]);
    assert_matches_truth(&report, &truth);
    assert!(report.unseen.is_empty(), "{:?}", report.unseen);
    assert_eq!(reasons(&report), []);
}
