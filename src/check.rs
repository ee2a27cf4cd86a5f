//! `guichet check`: the daemon's judgement on files, with no state changed.
//!
//! PDFs go through the reader and the rules; e-mails are routed as the
//! daemon routes them ([`crate::route`]: re-delivery, staff reply, too
//! large, applicant mail) and applicant mail goes through the whole
//! pipeline, with the desk the daemon builds (`Desk::from_settings`: the
//! operator's `[desk]` templates and roles). The store, when there is one,
//! is only read. The JSON is the
//! contract's `check --json` shape.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use serde_json::{json, Value};

use crate::config::Settings;
use crate::domain::{FormReport, Outcome, Reason};
use crate::message;
use crate::pipeline::{self, Desk, Known};
use crate::route::{route, Route};
use crate::store::Store;

/// Files to look at: the paths given, Maildir folders opened up (`new/`
/// then `cur/`, in arrival order), other folders listed.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if !p.exists() {
            bail!("{}: no such file or folder", p.display());
        }
        if !p.is_dir() {
            out.push(p.clone());
            continue;
        }
        let subdirs: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .map(|s| p.join(s))
            .filter(|d| d.is_dir())
            .collect();
        let dirs = if subdirs.is_empty() {
            vec![p.clone()]
        } else {
            subdirs
        };
        for d in dirs {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
                .with_context(|| format!("cannot list {}", d.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file())
                .collect();
            files.sort();
            out.extend(files);
        }
    }
    Ok(out)
}

/// The JSON object for one analysed PDF (the contract's shape).
pub fn form_json(file: &str, report: Option<&FormReport>, reasons: &[Reason]) -> Value {
    let outcome = Reason::outcome_of(reasons);
    let fields: serde_json::Map<String, Value> = report
        .map(|r| {
            r.fields
                .iter()
                .map(|(k, f)| (k.clone(), json!({"value": f.value, "confidence": (f.confidence * 100.0).round() / 100.0})))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "file": file,
        "forms": report.map(|r| r.forms).unwrap_or(0),
        "pages": report.map(|r| r.pages).unwrap_or(0),
        "outcome": outcome,
        "reasons": reasons,
        "service": report.and_then(|r| r.service()),
        "signatures": report.map(|r| r.signatures).unwrap_or_default(),
        "fields": fields,
    })
}

/// Analyses every file. The store, if given, is only read.
pub fn run(settings: &Settings, store: Option<&Store>, files: &[PathBuf]) -> Result<Vec<Value>> {
    let desk = Desk::from_settings(settings)?;
    let lookup = store.map(Store::lookup);
    let nothing_on_file: Vec<crate::domain::Request> = Vec::new();
    let on_file: &dyn crate::rules::OnFile = match &lookup {
        Some(lookup) => lookup,
        None => &nothing_on_file,
    };
    let known = Known {
        on_file,
        answered: vec![],
        processing_date: store.map(Store::processing_date).transpose()?.flatten(),
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if bytes.starts_with(b"%PDF-") || name.to_ascii_lowercase().ends_with(".pdf") {
            let attachment = message::Attachment {
                filename: name.clone(),
                content_type: "application/pdf".into(),
                bytes,
            };
            let (report, reasons) = pipeline::examine(
                &desk,
                &attachment,
                known.on_file,
                &[],
                Utc::now().date_naive(),
                budget(settings),
            );
            out.push(form_json(&name, report.as_ref(), &reasons));
            continue;
        }
        out.push(mail_json(
            &desk, settings, store, &known, &name, &bytes, &mut seen,
        )?);
    }
    lookup.map_or(Ok(()), crate::store::Lookup::finish)?;
    Ok(out)
}

fn mail_json(
    desk: &Desk,
    settings: &Settings,
    store: Option<&Store>,
    known: &Known,
    name: &str,
    bytes: &[u8],
    seen: &mut HashSet<String>,
) -> Result<Value> {
    let raw = message::defused(bytes);
    let sub = match message::parse_defused(bytes, &raw, &settings.intake.address) {
        Ok(s) => s,
        Err(e) => {
            return Ok(
                json!({"file": name, "outcome": Outcome::Rejected, "reasons": [], "error": e.to_string(), "attachments": []}),
            )
        }
    };
    let processed = !seen.insert(sub.fingerprint.clone())
        || store
            .map(|s| s.was_processed(&sub.fingerprint))
            .transpose()?
            .unwrap_or(false);
    // The daemon's intake takes only the header section of a file this large.
    let oversized = bytes.len() as u64 > settings.intake.max_message_bytes;
    let handled = match route(&raw, oversized, processed, settings) {
        Route::Redelivery => {
            return Ok(
                json!({"file": name, "message_id": sub.message_id, "outcome": Outcome::Ignored,
                "ignored_as": "re-delivery", "reasons": [], "attachments": []}),
            )
        }
        // Judged by staff sign-off, never by the applicant pipeline.
        Route::Staff(_) => {
            return Ok(
                json!({"file": name, "message_id": sub.message_id, "outcome": Outcome::Ignored,
                "ignored_as": "staff-reply", "reasons": [], "attachments": []}),
            )
        }
        Route::TooLarge => pipeline::too_large(desk, &sub, known),
        Route::Applicant => {
            let mut counter = 0;
            let mut next_id = |_year| {
                counter += 1;
                Ok(format!("(check-{counter})"))
            };
            let received_at = sub
                .date
                .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
                .unwrap_or_else(Utc::now);
            let budget = budget(settings);
            pipeline::handle(
                desk,
                &sub,
                known,
                received_at,
                Utc::now(),
                &mut next_id,
                budget,
            )?
        }
    };
    let attachments: Vec<Value> = handled
        .results
        .iter()
        .zip(&handled.forms)
        .map(|(result, report)| {
            let mut v = form_json(&result.attachment, report.as_ref(), &result.reasons);
            v["attachment"] = json!(result.attachment);
            v
        })
        .collect();
    let mut v = json!({
        "file": name,
        "message_id": sub.message_id,
        "from": sub.from,
        "outcome": handled.outcome,
        "reasons": handled.message_reasons,
        "attachments": attachments,
        "reply": handled.reply.as_ref().map(|r| r.kind.as_str()),
    });
    if let Some(s) = handled.silence {
        v["ignored_as"] = json!(s.as_str());
    }
    Ok(v)
}

/// The daemon's time budget for one message, starting now.
fn budget(settings: &Settings) -> pipeline::Budget {
    let seconds = settings.limits.message_seconds.into();
    pipeline::Budget::from_now(std::time::Duration::from_secs(seconds))
}

/// One line for a person reading a terminal.
pub fn summary_line(v: &Value) -> String {
    let reasons = |v: &Value| {
        v["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    let mut line = format!(
        "{}: {} {}",
        v["file"].as_str().unwrap_or("?"),
        v["outcome"].as_str().unwrap_or("?"),
        reasons(v)
    );
    if let Some(atts) = v["attachments"].as_array() {
        for a in atts {
            line.push_str(&format!(
                "\n  {}: {} {}",
                a["attachment"].as_str().unwrap_or("?"),
                a["outcome"].as_str().unwrap_or("?"),
                reasons(a)
            ));
        }
    }
    line
}
