//! `make bench`: what one message costs as the history grows, and what a
//! backlog costs in memory (issue "built to run for years").
//!
//! For 0, 5,000 and 20,000 requests on file, the built daemon
//! (`guichet run --once`, a child process on the built-in default) handles
//! 300 messages that each carry one small photo (a `not_pdf` request and a
//! reply, no OCR: the cost measured is the desk's, not the reader's). Printed
//! side by side: CPU per message (the run's CPU minus an empty run's, over
//! the messages), store bytes on disk before and growth per message, and the
//! run's peak resident memory. Then 5,000 messages waiting in the inbox are
//! drained by one run on an empty store: its peak resident memory.
//!
//! Targets (the issue's): CPU per message within 1.5× of the empty store's,
//! growth ≤ 10 KB per message, peak RSS ≤ 300 MB with 5,000 waiting.
//! `GUICHET_BENCH_HISTORY=0,1000` changes the history sizes (empty: only
//! the backlog).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{TimeZone, Utc};
use guichet::domain::{Employer, HistoryEntry, Request, State, User};
use guichet::store::{Commit, Store};

const MESSAGES: usize = 300;
const BACKLOG: usize = 5_000;
const GOAL_CPU_RATIO: f64 = 1.5;
const GOAL_GROWTH_KB: f64 = 10.0;
const GOAL_PEAK_MB: f64 = 300.0;

#[path = "common/rusage.rs"]
mod rusage;
use rusage::Usage;

/// Runs the daemon once; its own CPU time and peak memory, from `wait4`.
fn run_once(dir: &Path) -> Result<Usage> {
    let child = Command::new(env!("CARGO_BIN_EXE_guichet"))
        .current_dir(dir)
        .args(["run", "--once"])
        .env("RUST_LOG", "warn")
        .env_remove("JOURNAL_STREAM")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("start guichet")?;
    let mut status = 0;
    // SAFETY: wait4 writes into the zeroed struct we own; the child is ours
    // and is reaped here (its `Child` handle is never waited on).
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    if pid < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("guichet run --once failed (status {status})");
    }
    Ok(Usage::of(&ru))
}

fn bytes_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => bytes_under(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Request `i` of a year of history: mostly decided, some still waiting.
fn past_request(i: usize) -> Request {
    let state = match i % 10 {
        0 => State::Queued,
        1 => State::Correction,
        2 | 3 => State::Rejected,
        4 => State::Refused,
        _ => State::Approved,
    };
    let received_at = Utc
        .timestamp_opt(1_700_000_000 + (i as i64) * 1_500, 0)
        .unwrap();
    Request {
        id: format!("DA-2023-{i:06}"),
        received_at,
        state,
        reasons: vec![],
        service: Some(["FACT", "INSC", "PAIE", "DOSS"][i % 4].into()),
        message_id: format!("<history-{i}@clinique.example>"),
        attachment: "formulaire.pdf".into(),
        sender: format!("secretariat{i}@clinique{}.example", i % 500),
        employer: Employer {
            last_name: format!("Tremblay{i}"),
            first_name: "Marie".into(),
            licence: format!("{:06}", 100_000 + i % 900_000),
            email: format!("dr.tremblay{i}@clinique{}.example", i % 500),
        },
        user: User {
            last_name: format!("Gagnon{i}"),
            first_name: "Julie".into(),
            birth_date: "1988-04-12".into(),
            email: format!("julie.gagnon{i}@clinique{}.example", i % 500),
        },
        fields: Default::default(),
        history: vec![HistoryEntry {
            at: received_at,
            state,
            note: "received".into(),
        }],
    }
}

/// Puts `n` requests on file, a thousand to a commit.
fn seed_history(db: &Path, n: usize) -> Result<()> {
    let store = Store::open(db)?;
    let all: Vec<usize> = (0..n).collect();
    for (batch, chunk) in all.chunks(1_000).enumerate() {
        let commit = Commit {
            fingerprint: format!("bench-history-{batch}"),
            requests: chunk.iter().map(|&i| past_request(i)).collect(),
            ..Default::default()
        };
        store.commit(&commit)?;
    }
    Ok(())
}

/// A message from its own sender with one photo attached.
fn photo_message(tag: &str, i: usize) -> Vec<u8> {
    let photo = lettre::message::Attachment::new(format!("photo-{i}.jpg")).body(
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 not a form".to_vec(),
        lettre::message::header::ContentType::parse("image/jpeg").unwrap(),
    );
    lettre::Message::builder()
        .from(
            format!("Bureau {i} <bureau{i}@{tag}.example>")
                .parse()
                .unwrap(),
        )
        .to("acces@organisme.example".parse().unwrap())
        .subject("Formulaire")
        .message_id(Some(format!("<{tag}-{i}@bench.example>")))
        .multipart(
            lettre::message::MultiPart::mixed()
                .singlepart(lettre::message::SinglePart::plain(String::from("Voici.")))
                .singlepart(photo),
        )
        .unwrap()
        .formatted()
}

fn drop_messages(dir: &Path, tag: &str, count: usize) -> Result<()> {
    let new = dir.join("var/inbox/new");
    std::fs::create_dir_all(&new)?;
    for i in 0..count {
        let name = format!("{}.M{i}.{tag}", 1_733_130_000 + i);
        std::fs::write(new.join(name), photo_message(tag, i))?;
    }
    Ok(())
}

struct Row {
    history: usize,
    cpu_per_message: Duration,
    store_before: u64,
    growth_per_message: f64,
    peak_kb: i64,
}

fn measure(history: usize) -> Result<Row> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("var/db");
    let seeding = Instant::now();
    seed_history(&db, history)?;
    // A first run sends the approval requests of the history's waiting
    // requests; a second, empty, gives start-up and a round's cost, which
    // the messages' run pays too.
    run_once(dir.path())?;
    let idle = run_once(dir.path())?;
    let store_before = bytes_under(&db);
    eprintln!(
        "  {history} requests on file: seeded in {:.1?}, empty run {:.0?} CPU",
        seeding.elapsed(),
        idle.cpu
    );
    drop_messages(dir.path(), "bench", MESSAGES)?;
    let busy = run_once(dir.path())?;
    let handled = std::fs::read_dir(dir.path().join("var/inbox/cur"))?.count();
    if handled != MESSAGES {
        bail!("{handled} of {MESSAGES} messages handled");
    }
    let store_after = bytes_under(&db);
    Ok(Row {
        history,
        cpu_per_message: busy.cpu.saturating_sub(idle.cpu) / MESSAGES as u32,
        store_before,
        growth_per_message: store_after.saturating_sub(store_before) as f64 / MESSAGES as f64,
        peak_kb: busy.max_rss_kb,
    })
}

fn histories() -> Result<Vec<usize>> {
    match std::env::var("GUICHET_BENCH_HISTORY") {
        Ok(list) => list
            .split(',')
            .filter(|n| !n.trim().is_empty())
            .map(|n| {
                n.trim()
                    .parse()
                    .context("GUICHET_BENCH_HISTORY: numbers, comma-separated")
            })
            .collect(),
        Err(_) => Ok(vec![0, 5_000, 20_000]),
    }
}

fn main() -> Result<()> {
    if !std::env::args().any(|a| a == "--bench") {
        println!("store benchmark: run it with `cargo bench --bench store`");
        return Ok(());
    }
    eprintln!("store bench: {MESSAGES} messages with one photo each, per history size");
    let rows: Vec<Row> = histories()?
        .into_iter()
        .map(measure)
        .collect::<Result<_>>()?;

    let backlog = tempfile::tempdir()?;
    drop_messages(backlog.path(), "backlog", BACKLOG)?;
    let drained = run_once(backlog.path())?;

    let base = rows.first().map(|r| r.cpu_per_message).unwrap_or_default();
    println!();
    println!("requests on file | CPU per message | × empty | store on disk | growth per message | peak RSS");
    println!("---|---|---|---|---|---");
    for r in &rows {
        println!(
            "{:>6} | {:>7.2} ms | {:>4.2}× | {:>7.1} MB | {:>7.1} KB | {:>5.0} MB",
            r.history,
            r.cpu_per_message.as_secs_f64() * 1e3,
            r.cpu_per_message.as_secs_f64() / base.as_secs_f64().max(1e-9),
            r.store_before as f64 / 1e6,
            r.growth_per_message / 1e3,
            r.peak_kb as f64 / 1024.0,
        );
    }
    let worst_ratio = rows
        .iter()
        .map(|r| r.cpu_per_message.as_secs_f64() / base.as_secs_f64().max(1e-9))
        .fold(0.0, f64::max);
    let worst_growth = rows
        .iter()
        .map(|r| r.growth_per_message / 1e3)
        .fold(0.0, f64::max);
    let backlog_mb = drained.max_rss_kb as f64 / 1024.0;
    println!();
    println!(
        "{BACKLOG} messages waiting, drained in one run: peak RSS {backlog_mb:.0} MB, {:.1?} CPU",
        drained.cpu
    );
    println!();
    println!("target | goal | measured | met");
    println!("---|---|---|---");
    let line = |what: &str, goal: String, got: String, ok: bool| {
        println!(
            "{what} | {goal} | {got} | {}",
            if ok { "yes" } else { "no" }
        )
    };
    line(
        "CPU per message vs empty store",
        format!("≤ {GOAL_CPU_RATIO}×"),
        format!("{worst_ratio:.2}×"),
        worst_ratio <= GOAL_CPU_RATIO,
    );
    line(
        "store growth per message",
        format!("≤ {GOAL_GROWTH_KB} KB"),
        format!("{worst_growth:.1} KB"),
        worst_growth <= GOAL_GROWTH_KB,
    );
    line(
        "peak RSS, 5,000 waiting",
        format!("≤ {GOAL_PEAK_MB} MB"),
        format!("{backlog_mb:.0} MB"),
        backlog_mb <= GOAL_PEAK_MB,
    );
    Ok(())
}
