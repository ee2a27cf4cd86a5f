//! Hostile input, the test binary: the fuzz harness (a short run here, a
//! long one with `make fuzz`), its corpus under `tests/fuzz/corpus/`, and a
//! regression test for every kind of input that once broke the desk.
//!
//! Targets: the message parser, the staff-reply reader, and the PDF
//! reader's structure and pixel layers (`reader::inspect`: no OCR, so that
//! thousands of PDFs fit in seconds).

mod build;
mod hostile;
mod mutate;

use std::path::Path;
use std::time::Duration;

use guichet::message;
use guichet::staff::StaffReply;

const OWN: &str = "acces@organisme.example";
const AUTHSERV: &str = "mx.organisme.example";

/// Seconds per target in `cargo test` (three targets run side by side).
const SHORT_RUN_S: u64 = 12;

/// A fuzz target: takes any bytes, must neither panic nor dawdle.
type Target = fn(&[u8]);

fn files_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("corpus file"))
        .collect()
}

fn corpus(kind: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = files_in(&root.join("tests/fuzz/corpus").join(kind));
    seeds.extend(files_in(&root.join("tests/fuzz/corpus/regressions")));
    assert!(seeds.len() > 1, "corpus {kind} is missing");
    seeds
}

fn parse_message(input: &[u8]) {
    if let Ok(sub) = message::parse(input, OWN) {
        for a in &sub.attachments {
            a.is_pdf();
        }
    }
}

fn read_staff_reply(input: &[u8]) {
    // As the daemon gives it: defused first.
    StaffReply::read(&message::defused(input), OWN, AUTHSERV);
}

fn inspect_pdf(input: &[u8]) {
    let _ = guichet::reader::inspect(input);
}

fn assert_clean(figures: mutate::Figures) {
    assert!(
        figures.failures.is_empty(),
        "{}: {} failing inputs: {:?}",
        figures.target,
        figures.failures.len(),
        figures.failures
    );
    assert!(figures.inputs > 0);
}

/// A run of `FUZZ_SECONDS` (else the short run) that must find nothing.
fn fuzz_clean(name: &'static str, seeds: &[Vec<u8>], slow_s: u64, target: Target) {
    let time = mutate::seconds(SHORT_RUN_S);
    let figures = mutate::fuzz(name, seeds, time, Duration::from_secs(slow_s), target);
    assert_clean(figures);
}

#[test]
fn fuzz_message_parser() {
    let mut seeds = corpus("mail");
    seeds.push(build::outlook_mail(&build::winmail_dat(
        &[("a.pdf", b"%PDF-1.4 x")],
        build::Tnef::Legacy,
    )));
    seeds.push(build::uuencoded_mail("a.pdf", b"%PDF-1.4 x\n%%EOF"));
    fuzz_clean("message", &seeds, 2, parse_message);
}

#[test]
fn fuzz_staff_reply_reader() {
    let mut seeds = corpus("mail");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    seeds.extend(files_in(&root.join("tests/fixtures/staff-replies")));
    fuzz_clean("staff", &seeds, 2, read_staff_reply);
}

#[test]
fn fuzz_pdf_reader() {
    let mut seeds = corpus("pdf");
    seeds.push(build::blank_form());
    fuzz_clean("pdf", &seeds, 5, inspect_pdf);
}

/// What the fuzzer once found stays found: every saved input goes through
/// every target, quickly and without a panic.
#[test]
fn regression_files_pass_every_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = files_in(&root.join("tests/fuzz/corpus/regressions"));
    let targets: [(&'static str, Target); 3] = [
        ("message", parse_message),
        ("staff", read_staff_reply),
        ("pdf", inspect_pdf),
    ];
    for (name, target) in targets {
        let f = mutate::fuzz(
            name,
            &inputs,
            Duration::ZERO,
            Duration::from_secs(5),
            target,
        );
        assert_eq!(f.inputs, inputs.len() as u64);
        assert_clean(f);
    }
}
