//! Measures the form reader against a corpus with its truth:
//!
//! ```text
//! cargo run --release --example accuracy -- DIR
//! ```
//!
//! `DIR/truth.json` lists, per PDF, the expected forms count, service,
//! signatures and field values, with the `flaw` put in and how the file was
//! `produced_by`. Prints one table per flaw and per production path, the
//! CPU time spent per file, then every mismatch. With `ACCURACY_CROPS=DIR`
//! set, every crop the reader kept is written there as PNG.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use guichet::domain::{FormReport, Outcome, ReadError};
use guichet::reader::{Da100Reader, FormReader};
use serde::Deserialize;

#[derive(Deserialize)]
struct Truth {
    file: String,
    forms: u32,
    outcome: Outcome,
    #[serde(default)]
    service: Option<String>,
    signatures: guichet::domain::Signatures,
    flaw: String,
    produced_by: String,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

/// The outcome the rules would give this report. The rules live in their
/// own module (issue 4); until it is merged this returns `None` and the
/// outcome column reads `n/a`. Plug `guichet::rules` in here.
fn outcome_from_rules(_report: &Result<FormReport, ReadError>) -> Option<Outcome> {
    None
}

#[derive(Default)]
struct Tally {
    files: u32,
    forms_right: u32,
    service_right: u32,
    signatures_right: u32,
    outcome_right: u32,
    outcome_known: u32,
    fields: u32,
    fields_right: u32,
}

impl Tally {
    fn row(&self, name: &str) -> String {
        let pct = |n: u32, d: u32| {
            if d == 0 {
                "n/a".to_string()
            } else {
                format!("{n}/{d} {:.1}%", 100.0 * n as f64 / d as f64)
            }
        };
        format!(
            "{name:<28} {:>5} {:>14} {:>14} {:>14} {:>16} {:>14}",
            self.files,
            pct(self.forms_right, self.files),
            pct(self.service_right, self.files),
            pct(self.signatures_right, self.files),
            pct(self.fields_right, self.fields),
            pct(self.outcome_right, self.outcome_known),
        )
    }
}

/// CPU seconds used so far by this process and its waited-for children.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name in parentheses; utime is field 14.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let ticks: f64 = f.get(11..15).map(|s| s.iter().sum()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let dir = PathBuf::from(std::env::args().nth(1).context("usage: accuracy DIR")?);
    let truth: Vec<Truth> = serde_json::from_slice(&std::fs::read(dir.join("truth.json"))?)?;
    let reader = Da100Reader::new()?;
    // ACCURACY_CROPS=DIR keeps every crop the reader made, to look at.
    let crops_dir = std::env::var_os("ACCURACY_CROPS").map(PathBuf::from);

    let mut by_flaw: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_producer: BTreeMap<String, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    let mut mismatches = Vec::new();
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());

    for t in &truth {
        let bytes = std::fs::read(dir.join(&t.file))?;
        let cpu = cpu_seconds();
        let result = reader.read(&bytes);
        let spent = cpu_seconds() - cpu;
        let mut miss =
            |what: String| mismatches.push(format!("{} [{}]: {what}", t.file, t.produced_by));
        let mut tally = Tally {
            files: 1,
            ..Tally::default()
        };
        match &result {
            Err(e) => miss(format!("read error: {e}")),
            Ok(r) => {
                tally.forms_right = u32::from(r.forms == t.forms);
                if r.forms != t.forms {
                    miss(format!("forms {} (truth {})", r.forms, t.forms));
                }
                // The service only means something on a single form.
                let service_ok = t.forms != 1 || r.service().map(str::to_string) == t.service;
                tally.service_right = u32::from(service_ok);
                if !service_ok {
                    miss(format!("ticked {:?} (truth {:?})", r.ticked, t.service));
                }
                tally.signatures_right = u32::from(r.signatures == t.signatures);
                if r.signatures != t.signatures {
                    miss(format!(
                        "signatures {:?} (truth {:?})",
                        r.signatures, t.signatures
                    ));
                }
                if t.flaw == "none" {
                    for (id, want) in &t.fields {
                        tally.fields += 1;
                        match r.fields.get(id) {
                            Some(got) if &got.value == want => tally.fields_right += 1,
                            Some(got) => miss(format!(
                                "{id} = {:?} ({:.2}) (truth {want:?})",
                                got.value, got.confidence
                            )),
                            None if r.illegible.contains(id) => {
                                miss(format!("{id} illegible (truth {want:?})"))
                            }
                            None => miss(format!("{id} absent (truth {want:?})")),
                        }
                    }
                    for id in r.fields.keys().filter(|id| !t.fields.contains_key(*id)) {
                        tally.fields += 1;
                        miss(format!("{id} = {:?} (truth: empty)", r.fields[id].value));
                    }
                }
            }
        }
        if let Some(outcome) = outcome_from_rules(&result) {
            tally.outcome_known = 1;
            tally.outcome_right = u32::from(outcome == t.outcome);
        }
        eprintln!("{} {:.3}s cpu", t.file, spent);
        if let (Some(out), Ok(r)) = (&crops_dir, &result) {
            for crop in &r.crops {
                std::fs::write(out.join(format!("{}-{}.png", t.file, crop.zone)), &crop.png)?;
            }
        }
        for target in [
            by_flaw.entry(t.flaw.clone()).or_default(),
            by_producer.entry(t.produced_by.clone()).or_default(),
            &mut total,
        ] {
            target.files += tally.files;
            target.forms_right += tally.forms_right;
            target.service_right += tally.service_right;
            target.signatures_right += tally.signatures_right;
            target.outcome_right += tally.outcome_right;
            target.outcome_known += tally.outcome_known;
            target.fields += tally.fields;
            target.fields_right += tally.fields_right;
        }
    }

    let header = format!(
        "{:<28} {:>5} {:>14} {:>14} {:>14} {:>16} {:>14}",
        "", "files", "forms", "service", "signatures", "fields (none)", "outcome"
    );
    println!("{header}\n-- by flaw");
    for (name, t) in &by_flaw {
        println!("{}", t.row(name));
    }
    println!("-- by produced_by");
    for (name, t) in &by_producer {
        println!("{}", t.row(name));
    }
    println!("{}", total.row("TOTAL"));
    let n = truth.len().max(1) as f64;
    println!(
        "\nCPU per file: {:.3} s (wall {:.3} s), {} files",
        (cpu_seconds() - cpu0) / n,
        wall0.elapsed().as_secs_f64() / n,
        truth.len()
    );
    println!("\n{} mismatches", mismatches.len());
    for m in &mismatches {
        println!("  {m}");
    }
    Ok(())
}
