//! The daemon's chores after the inbox, each the same shape (ask the store,
//! decide over values and `now`, write one batch): accounts handed to the
//! organisation's systems, the staff digest when due, retention (Loi 25),
//! and the kept e-mails it queued removed from the mailbox.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::config::Settings;
use crate::domain::Handoff;
use crate::intake::Mailbox;
use crate::ops::Metrics;
use crate::reply::{self, notices, Templates};
use crate::staff::signoff::{digest_due, handoff_json};
use crate::store::signoff::SignoffCommit;
use crate::store::Store;

/// Longest time the hand-off command may take for one account.
const HANDOFF_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest hand-off error text recorded, in characters.
const MAX_HANDOFF_DETAIL: usize = 200;

/// Hands every new account to the organisation's systems (`staff.handoff_command`).
pub async fn hand_off(store: &Store, settings: &Settings, now: DateTime<Utc>) -> Result<()> {
    run_handoffs(store, settings.staff.handoff_command.as_deref(), now).await
}

/// The digest at `staff.digest_hour`; without an hour the daemon leaves it
/// to `guichet digest`.
pub fn digest_if_due(
    store: &Store,
    settings: &Settings,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Result<usize> {
    match settings.staff.digest_hour {
        Some(hour) => send_digest(store, settings, templates, Some(hour), now),
        None => Ok(0),
    }
}

/// Queues the digest for every staff member when due (`hour`: see
/// [`digest_due`]; days and hours are the server's local time, as staff
/// live them) and something waits. The day is recorded either way, so the
/// daemon and `guichet digest` together send at most one a day.
pub fn send_digest(
    store: &Store,
    settings: &Settings,
    templates: &Templates,
    hour: Option<u32>,
    now: DateTime<Utc>,
) -> Result<usize> {
    let local = now.with_timezone(&chrono::Local);
    if !digest_due(store.last_digest()?, hour, &local) {
        return Ok(0);
    }
    // What waits (through the store's index) and the depth per state.
    let waiting = store.waiting_requests()?;
    let mut commit = SignoffCommit {
        digest_sent: Some(local.date_naive()),
        ..Default::default()
    };
    if !waiting.is_empty() {
        let status = store.status()?;
        for member in &settings.staff.members {
            let reply = notices::digest(
                templates,
                member,
                &waiting,
                &status.depth,
                status.processing_date,
            );
            match reply::outgoing(&reply, &settings.intake.address, now) {
                Ok((mail, _)) => commit.outgoing.push(mail),
                Err(e) => {
                    warn!(staff = %crate::logging::pseudonym(member), error = %crate::logging::scrub(&e.to_string()), "digest not rendered")
                }
            }
        }
    }
    store.commit_signoff(&commit)?;
    info!(messages = commit.outgoing.len(), "daily digest");
    Ok(commit.outgoing.len())
}

/// Hands every new account to the organisation's systems and records the
/// result. Without a command, the account is marked as not handed off.
async fn run_handoffs(store: &Store, command: Option<&Path>, now: DateTime<Utc>) -> Result<()> {
    for account in store
        .accounts()?
        .into_iter()
        .filter(|a| a.handoff.is_none())
    {
        let handoff = match command {
            None => Handoff {
                at: now,
                ok: false,
                detail: "no handoff_command configured".into(),
            },
            Some(program) => {
                let input = serde_json::to_vec(&handoff_json(&account))?;
                let (ok, detail) = run_handoff(program, &input).await;
                Handoff {
                    at: now,
                    ok,
                    detail,
                }
            }
        };
        if handoff.ok {
            info!(request = %account.request_id, detail = %crate::logging::scrub(&handoff.detail), "account handed off");
        } else {
            warn!(request = %account.request_id, detail = %crate::logging::scrub(&handoff.detail), "account not handed off");
        }
        store.record_handoff(&account.username, handoff)?;
    }
    Ok(())
}

/// Runs the hand-off program with `input` on standard input, for at most
/// [`HANDOFF_TIMEOUT`]: success, and a line for the record.
async fn run_handoff(program: &Path, input: &[u8]) -> (bool, String) {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;

    let spawned = tokio::process::Command::new(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return (false, format!("cannot start {}: {e}", program.display())),
    };
    let run = async {
        if let Some(mut stdin) = child.stdin.take() {
            // A program that does not read its input is its own business.
            let _ = stdin.write_all(input).await;
        }
        child.wait_with_output().await
    };
    match tokio::time::timeout(HANDOFF_TIMEOUT, run).await {
        Err(_) => (
            false,
            format!("timed out after {} s", HANDOFF_TIMEOUT.as_secs()),
        ),
        Ok(Err(e)) => (false, format!("cannot run {}: {e}", program.display())),
        Ok(Ok(output)) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first: String = stderr
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default()
                .chars()
                .take(MAX_HANDOFF_DETAIL)
                .collect();
            let detail = match first.trim() {
                "" => output.status.to_string(),
                line => format!("{}: {line}", output.status),
            };
            (output.status.success(), detail)
        }
    }
}

/// Applies retention when due (`retention.days`); says whether anything
/// was erased (the store is then rewritten).
pub fn retention(
    store: &Store,
    settings: &Settings,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> Result<bool> {
    let Some(done) = store.retention_if_due(now, settings.retention.days)? else {
        return Ok(false);
    };
    info!(
        erased = %done.erased.join(","),
        documents = done.documents,
        accounts = done.accounts,
        mail = done.mail_queued,
        waiting = done.waiting,
        "retention applied"
    );
    metrics.documents_purged(done.documents);
    Ok(done.removed_anything())
}

/// Removes from the mailbox the kept copies of messages that retention or
/// an erasure queued; they leave the queue once the mailbox removed them.
pub async fn forget_kept_mail<M: Mailbox>(store: &Store, mailbox: &mut M) -> Result<usize> {
    let ids = store.mail_to_forget()?;
    if ids.is_empty() {
        return Ok(0);
    }
    let removed = mailbox.forget(&ids).await?;
    store.mail_forgotten(&ids)?;
    info!(messages = ids.len(), removed, "kept mail removed");
    Ok(removed)
}
