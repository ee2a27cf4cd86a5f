//! The synthetic corpus generator (`tools/gencorpus`) is what the reader's
//! accuracy and speed are measured on, so its output must be trustworthy:
//! PDFs that open with the page count the truth implies, a truth file in the
//! shared corpus's format whose outcome follows from its reasons, and the same
//! forms for the same seed. Scans are pinned to 200 dpi to keep this quick.

use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};

const PYTHON: &str = "/usr/bin/python3";
const KEYS: [&str; 10] = [
    "file",
    "forms",
    "outcome",
    "reasons",
    "service",
    "signatures",
    "review_ok",
    "flaw",
    "produced_by",
    "fields",
];

fn generate(seed: u32, count: u32, out: &Path) -> Vec<Map<String, Value>> {
    generate_with(seed, count, out, &["--dpi", "200"])
}

fn generate_with(seed: u32, count: u32, out: &Path, options: &[&str]) -> Vec<Map<String, Value>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/gencorpus/gencorpus.py");
    let run = Command::new(PYTHON)
        .arg(script)
        .args(["--seed", &seed.to_string(), "--count", &count.to_string()])
        .args(options)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run /usr/bin/python3 (Debian python3 with reportlab, pypdf, pil, numpy)");
    assert!(
        run.status.success(),
        "gencorpus.py failed: {}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(out.join("truth.json")).expect("truth.json written");
    let truth: Value = serde_json::from_str(&text).expect("truth.json is JSON");
    truth
        .as_array()
        .expect("truth.json is an array")
        .iter()
        .map(|e| e.as_object().expect("each entry is an object").clone())
        .collect()
}

fn pdf_pages(path: &Path) -> u64 {
    let out = Command::new("pdfinfo")
        .arg(path)
        .output()
        .expect("run pdfinfo");
    assert!(
        out.status.success(),
        "pdfinfo cannot open {}",
        path.display()
    );
    let info = String::from_utf8_lossy(&out.stdout);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count for {}", path.display()))
}

fn expected_outcome(reasons: &[Value]) -> &'static str {
    let codes: Vec<&str> = reasons.iter().filter_map(Value::as_str).collect();
    if codes.contains(&"multi_form") {
        "rejected"
    } else if codes.iter().any(|c| !c.starts_with("illegible:")) {
        "correction"
    } else if codes.is_empty() {
        "queued"
    } else {
        "review"
    }
}

fn check_fields(fields: &Map<String, Value>) {
    for (id, value) in fields {
        let v = value.as_str().expect("field values are strings");
        assert_eq!(v, v.trim(), "{id} is trimmed");
        assert!(!v.contains("  "), "{id} has single spaces");
        if id.ends_with(".email") {
            assert_eq!(v, v.to_lowercase(), "{id} is lower-cased");
        }
        if id.ends_with("date") {
            let ok = v.len() == 10
                && v.chars()
                    .enumerate()
                    .all(|(i, c)| (i == 4 || i == 7) == (c == '-'));
            assert!(ok, "{id} is YYYY-MM-DD: {v}");
        }
        if id == "employer.licence" {
            assert!(
                v.len() == 6 && v.chars().all(|c| c.is_ascii_digit()),
                "licence: {v}"
            );
        }
    }
}

#[test]
fn generated_forms_open_and_their_truth_is_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let truth = generate(20240, 4, dir.path());
    assert_eq!(truth.len(), 4);
    for entry in &truth {
        let keys: Vec<&str> = entry.keys().map(String::as_str).collect();
        for key in KEYS {
            assert!(keys.contains(&key), "missing {key} in {entry:?}");
        }
        assert_eq!(keys.len(), KEYS.len(), "unexpected keys in {entry:?}");

        let file = dir.path().join(entry["file"].as_str().expect("file name"));
        let size = std::fs::metadata(&file).expect("PDF written").len();
        assert!(size < 1_600_000, "{} is {size} bytes", file.display());
        let forms = entry["forms"].as_u64().expect("forms count");
        let duplex = entry["produced_by"]
            .as_str()
            .is_some_and(|p| p.contains("+duplex"));
        let sheets = 2 * forms * if duplex { 2 } else { 1 };
        assert_eq!(pdf_pages(&file), sheets, "pages of {}", file.display());

        let reasons = entry["reasons"].as_array().expect("reasons array");
        assert_eq!(entry["outcome"], expected_outcome(reasons), "{entry:?}");
        assert_eq!(forms == 2, entry["flaw"] == "multi_form");
        if entry["flaw"] == "none" {
            assert!(reasons.is_empty());
            assert!(
                entry["service"].is_string(),
                "a complete form names its service"
            );
        }
        check_fields(entry["fields"].as_object().expect("fields object"));
    }
}

/// A phone photo whose frame cuts through a field: one camera JPEG a page
/// (a megapixel or more), and a truth that asks for the page again
/// (`incomplete_scan`) while naming every value written on the form.
#[test]
fn a_phone_photo_cut_through_a_field_asks_for_the_page_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = ["--mix", "hard", "--flaws", "cut_off"];
    let truth = generate_with(8, 1, dir.path(), &options);
    let entry = &truth[0];
    let made = entry["produced_by"].as_str().expect("produced_by");
    assert!(
        made.starts_with("photo/") && made.contains("+cut"),
        "{made}"
    );
    assert_eq!(entry["reasons"], serde_json::json!(["incomplete_scan"]));
    assert_eq!(entry["outcome"], "correction");
    let fields = entry["fields"].as_object().expect("fields object");
    assert!(
        fields.len() >= 11,
        "every required field is named: {fields:?}"
    );
    check_fields(fields);

    let file = dir.path().join(entry["file"].as_str().expect("file name"));
    assert_eq!(pdf_pages(&file), 2);
    let list = Command::new("pdfimages")
        .arg("-list")
        .arg(&file)
        .output()
        .expect("run pdfimages");
    let text = String::from_utf8_lossy(&list.stdout);
    let images: Vec<Vec<&str>> = text
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(images.len(), 2, "one picture a page: {text}");
    for cols in images {
        let (w, h): (u64, u64) = (
            cols[3].parse().expect("width"),
            cols[4].parse().expect("height"),
        );
        assert_eq!(cols[8], "jpeg", "a camera's JPEG: {cols:?}");
        assert!(
            w * h >= 1_000_000 && h > w,
            "a portrait photo of a megapixel or more: {cols:?}"
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_forms() {
    let (a, b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let first = generate(77, 2, a.path());
    let again = generate(77, 1, b.path());
    assert_eq!(
        first[0], again[0],
        "form 0 of seed 77 does not depend on --count"
    );
    assert_ne!(
        first[0]["fields"], first[1]["fields"],
        "each form has its own people"
    );
}

/// A registry that knows no one: each generated form is judged alone.
struct NoOneOnFile;

impl guichet::rules::Registry for NoOneOnFile {
    fn people_with_email(&self, _: &str) -> Vec<guichet::rules::Person> {
        vec![]
    }
    fn has_active_request(&self, _: &guichet::rules::RequestKey) -> bool {
        false
    }
}

/// The generator's truth and guichet's rules agree: given the facts a form
/// holds (its fields, ticked service, signatures, form count), the rules give
/// exactly the reasons and outcome the truth names, over every kind of flaw.
#[test]
fn the_rules_give_each_generated_form_its_reasons() {
    let flaws = rules_agree_with_truth("default");
    // Every flaw the generator makes was met (a corpus of only clean forms
    // would prove nothing).
    assert!(flaws.len() >= 15, "flaws met: {flaws:?}");
}

/// The same over the hard mix, whose photo flaws (a page cut through a zone,
/// too dark, too blurred) are the reader's to see: their forms are complete,
/// so the rules find nothing, and `incomplete_scan` alone makes them
/// `correction`.
#[test]
fn the_rules_give_each_form_of_the_hard_mix_its_reasons() {
    let flaws = rules_agree_with_truth("hard");
    for flaw in ["cut_off", "dark_page", "blurred_page"] {
        assert!(flaws.contains(flaw), "{flaw} not met: {flaws:?}");
    }
}

/// Checks the rules against 400 truths of `mix`; returns the flaws met.
fn rules_agree_with_truth(mix: &str) -> std::collections::BTreeSet<String> {
    use guichet::domain::{FieldReading, FormReport, Reason};
    let dir = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/gencorpus/gencorpus.py");
    let run = Command::new(PYTHON)
        .arg(script)
        .args([
            "--seed",
            "11",
            "--count",
            "400",
            "--truth-only",
            "--mix",
            mix,
        ])
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("run /usr/bin/python3");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("truth.json")).expect("truth.json");
    let truth: Vec<Value> = serde_json::from_str(&text).expect("truth.json is JSON");
    assert_eq!(truth.len(), 400);
    let today = chrono::NaiveDate::from_ymd_opt(2024, 12, 2).expect("date");
    let roles = guichet::rules::RoleList::builtin();
    let mut flaws = std::collections::BTreeSet::new();
    for entry in &truth {
        let file = entry["file"].as_str().expect("file");
        let mut fields = std::collections::BTreeMap::new();
        for (id, value) in entry["fields"].as_object().expect("fields") {
            let value = value.as_str().expect("string").to_string();
            fields.insert(
                id.clone(),
                FieldReading {
                    value,
                    confidence: 1.0,
                },
            );
        }
        // The truth leaves out an e-mail that is no address (the contract's
        // `fields` holds normalised values); the reader reports what is
        // written, so stand in an address with its `@` lost.
        for party in ["employer", "user"] {
            let id = format!("{party}.email");
            let flawed = entry["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .any(|r| r.as_str() == Some(&format!("invalid_email:{party}")));
            if flawed && !fields.contains_key(&id) {
                let value = "prenom.nom domaine.ca".to_string();
                fields.insert(
                    id,
                    FieldReading {
                        value,
                        confidence: 1.0,
                    },
                );
            }
        }
        let report = FormReport {
            forms: entry["forms"].as_u64().expect("forms") as u32,
            pages: 2,
            ticked: entry["service"]
                .as_str()
                .map(String::from)
                .into_iter()
                .collect(),
            signatures: serde_json::from_value(entry["signatures"].clone()).expect("signatures"),
            fields,
            illegible: vec![],
            ..FormReport::default()
        };
        let reasons = guichet::rules::decide(&report, &NoOneOnFile, &roles, today);
        let codes: Vec<String> = reasons.iter().map(Reason::to_string).collect();
        let mut expected: Vec<String> =
            serde_json::from_value(entry["reasons"].clone()).expect("reasons");
        if expected.iter().any(|r| r == INCOMPLETE_SCAN) {
            // What the reader sees on the page, not a rule over the facts.
            assert_eq!(expected, [INCOMPLETE_SCAN], "{file}: one flaw a form");
            assert_eq!(entry["outcome"], "correction", "{file}");
            expected.clear();
        } else {
            assert_eq!(
                Reason::outcome_of(&reasons).as_str(),
                entry["outcome"],
                "{file}"
            );
        }
        assert_eq!(codes, expected, "{file}: {entry}");
        flaws.insert(entry["flaw"].as_str().expect("flaw").to_string());
    }
    flaws
}

const INCOMPLETE_SCAN: &str = "incomplete_scan";
