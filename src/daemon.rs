//! The thin shell around the pipeline: take mail, commit its effects, then
//! let it leave the inbox; drain the outbox; wait for more.
//!
//! Order of work for one message, the heart of "nothing lost, nothing
//! twice": parse → (already handled? then only settle) → decide (pure) →
//! one store transaction with requests, replies and the processed mark →
//! flush → move the message out of the inbox. A crash anywhere before the
//! move re-reads the message, and the processed mark makes that harmless.
//! A staff reply (addressed to a token plus-address) takes the same path
//! through [`signoff::take_reply`] instead of the applicant pipeline; after
//! the inbox, [`signoff::step`] sends approval requests and the digest.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Utc};
use rand::Rng;
use tracing::{error, info, warn};

use crate::config::Settings;
use crate::domain::Reason;
use crate::intake::{self, Disposition, Incoming, Mailbox};
use crate::message;
use crate::ops::{self, notify, Hooks, Metrics, Signals};
use crate::outbox::{self, Outgoing, Transport};
use crate::pipeline::{self, Desk, Known};
use crate::reply::{self, Reply};
use crate::signoff;
use crate::staff::StaffReply;
use crate::store::cursor::ImapPosition;
use crate::store::{Commit, Document, Processed, Store};

/// How long the daemon waits for new mail before looking again anyway.
const IDLE_WAIT: Duration = Duration::from_secs(60);

/// Runs the daemon with the mailbox and transport the settings name.
pub async fn run(settings: Settings, once: bool) -> Result<()> {
    // First, so that a signal during start-up is heard, not fatal.
    let signals = Signals::install()?;
    let mut hooks = Hooks {
        metrics: Arc::new(Metrics::default()),
        signals,
        position: None,
    };
    let mut desk = Desk::from_settings(&settings)?;
    ops::desk::refit(&mut desk, &settings)?;
    let desk = ops::desk::time_reader(desk, hooks.metrics.clone());
    // The store opens (and is let go again): with the mailbox reached, ready.
    let position = ImapPosition::load_from(&Store::open_waiting(
        &settings.store.path,
        Duration::from_secs(60),
    )?)?;
    hooks.position = Some(position.clone());
    // One token source for both, so that one token serves IMAP and SMTP.
    let tokens = crate::oauth2::TokenSource::from_settings(&settings)?;
    let mailbox = intake::Configured::from_settings(&settings, &position, tokens.clone())?;
    let transport = outbox::Configured::from_settings(&settings, tokens)?;
    let mut daemon = Daemon {
        settings,
        desk,
        mailbox,
        transport,
    };
    let metrics = daemon.settings.metrics.clone();
    if let Some(addr) = metrics.as_ref().and_then(|m| m.listen) {
        let bound = ops::http::serve(addr, hooks.metrics.clone()).await?;
        info!(%bound, "metrics on http://{bound}/metrics");
    }
    info!(
        inbox = %daemon.settings.intake.maildir.display(),
        outbox = %daemon.settings.outbox.dir.display(),
        store = %daemon.settings.store.path.display(),
        "guichet started"
    );
    notify::ready();
    // Pings come from this loop only, at least twice per watchdog period.
    let wait = notify::watchdog_interval()
        .map(|w| (w / 2).min(IDLE_WAIT))
        .unwrap_or(IDLE_WAIT);
    let result = loop {
        if hooks.signals.take_reload() {
            daemon.reload(&hooks);
        }
        let report = match daemon.tick_with(&hooks).await {
            Ok(report) => report,
            Err(e) => break Err(e),
        };
        if let Some(path) = metrics.as_ref().and_then(|m| m.textfile.as_deref()) {
            if let Err(e) = ops::http::write_textfile(path, &hooks.metrics) {
                warn!(error = format!("{e:#}"), "metrics textfile not written");
            }
        }
        hooks.alive();
        if once || hooks.stopping() {
            break Ok(());
        }
        tokio::select! {
            r = daemon.mailbox.wait(wait_until(report.next_send, wait, Utc::now())) => {
                if let Err(e) = r { break Err(e) }
            }
            _ = hooks.signals.arrived() => {}
        }
        // A stop ends the loop now: another round would first reconnect
        // the IDLE session the signal just interrupted.
        if hooks.stopping() {
            break Ok(());
        }
    };
    notify::stopping();
    if let Err(e) = daemon.mailbox.logout().await {
        warn!(error = format!("{e:#}"), "mailbox logout failed");
    }
    match &result {
        Ok(()) if hooks.stopping() => info!("stopped on signal"),
        Ok(()) => {}
        Err(e) => error!(error = format!("{e:#}"), "stopping on error"),
    }
    result
}

/// What one round of work did, for tests and logs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub handled: usize,
    pub sent: usize,
    /// When the earliest reply left in the outbox is due: the loop wakes
    /// then rather than at its next poll.
    pub next_send: Option<DateTime<Utc>>,
}

/// How long the loop may wait for mail: `max`, or less when a reply is due
/// sooner (at least a second, so that a reply due now cannot spin the loop).
fn wait_until(next_send: Option<DateTime<Utc>>, max: Duration, now: DateTime<Utc>) -> Duration {
    let Some(due) = next_send else { return max };
    let until = (due - now).to_std().unwrap_or_default();
    until.clamp(Duration::from_secs(1), max.max(Duration::from_secs(1)))
}

pub struct Daemon<M: Mailbox, T: Transport> {
    pub settings: Settings,
    pub desk: Desk,
    pub mailbox: M,
    pub transport: T,
}

impl<M: Mailbox, T: Transport> Daemon<M, T> {
    /// One round: every message waiting, then the outbox. The store is open
    /// only during the round, so that commands run beside the daemon can read it.
    pub async fn tick(&mut self) -> Result<TickReport> {
        self.tick_with(&Hooks::default()).await
    }

    /// A round that reports to `hooks` and ends after the message in hand
    /// when the service is stopping (the outbox then waits for the next start).
    pub async fn tick_with(&mut self, hooks: &Hooks) -> Result<TickReport> {
        let store = Arc::new(Store::open_waiting(
            &self.settings.store.path,
            Duration::from_secs(60),
        )?);
        if let Some(position) = &hooks.position {
            position.lend(store.clone())?;
        }
        let result = self.round(&store, hooks).await;
        if let Some(position) = &hooks.position {
            position.take_back();
        }
        let (report, erased) = result?;
        if erased {
            // Erased values linger in sled's old segments until rewritten.
            match Arc::try_unwrap(store) {
                Ok(store) => match store.rewrite(&self.settings.store.path) {
                    Ok(entries) => info!(entries, "store rewritten after erasure"),
                    Err(e) => warn!(
                        error = format!("{e:#}"),
                        "store not rewritten after erasure"
                    ),
                },
                Err(_) => warn!("store still in use: rewritten after the next erasure"),
            }
        }
        Ok(report)
    }

    /// The work of one round, with the store open; says too whether
    /// retention erased anything (the store is then rewritten).
    async fn round(&mut self, store: &Store, hooks: &Hooks) -> Result<(TickReport, bool)> {
        let mut report = TickReport::default();
        let mut erased = false;
        // A backlog comes a batch at a time: one batch in memory, never all.
        loop {
            let waiting = self.mailbox.fetch().await;
            hooks.metrics.mailbox_connected(waiting.is_ok());
            // A mailbox that cannot be used (its folders refused) stops the
            // daemon; `status` says why after it stopped.
            intake::imap::record_stop(store, waiting.as_ref().err(), Utc::now())?;
            let waiting = waiting?;
            let more = waiting.len() >= crate::intake::FETCH_BATCH;
            for incoming in waiting {
                if hooks.stopping() {
                    break;
                }
                self.take(store, incoming, &hooks.metrics).await?;
                report.handled += 1;
                hooks.alive();
                check_resident(self.settings.limits.memory_max_mb)?;
            }
            if !more || hooks.stopping() {
                break;
            }
        }
        if !hooks.stopping() {
            signoff::step(store, &self.settings, &self.desk.templates, Utc::now()).await?;
        }
        // Taken after sign-off, so that what it queued is due now.
        let now = Utc::now();
        if !hooks.stopping() {
            let first_retry = i64::from(self.settings.outbox.retry_first_s);
            report.sent =
                outbox::drain::drain(store, &self.transport, now, first_retry, &hooks.metrics)
                    .await?;
            if let Some(done) = store.retention_if_due(now, self.settings.retention.days)? {
                info!(
                    erased = %done.erased.join(","),
                    documents = done.documents,
                    accounts = done.accounts,
                    mail = done.mail_queued,
                    waiting = done.waiting,
                    "retention applied"
                );
                hooks.metrics.documents_purged(done.documents);
                erased = done.removed_anything();
            }
            if let Err(e) = forget_kept_mail(store, &mut self.mailbox).await {
                warn!(error = format!("{e:#}"), "kept mail not removed yet");
            }
            store.set_last_poll(now)?;
        }
        hooks.metrics.snapshot(ops::metrics::Snapshot {
            status: store.status()?,
            oldest_pending: store.oldest_pending()?,
            at: now,
        });
        report.next_send = outbox::drain::next_send(store)?;
        store.flush()?;
        Ok((report, erased))
    }

    /// Re-reads the operator's templates and role list (SIGHUP). On failure
    /// the files in use stay, and the error is logged.
    pub fn reload(&mut self, hooks: &Hooks) {
        notify::reloading();
        match ops::desk::refit(&mut self.desk, &self.settings) {
            Ok(()) => {
                hooks.metrics.reload(true);
                info!(
                    roles = self.desk.roles.len(),
                    "templates and role list reloaded"
                );
            }
            Err(e) => {
                hooks.metrics.reload(false);
                error!(
                    error = format!("{e:#}"),
                    "reload failed, previous templates and role list kept"
                );
            }
        }
        notify::reloaded();
    }

    /// Handles one message and settles it once its effects are safe.
    async fn take(&mut self, store: &Store, incoming: Incoming, metrics: &Metrics) -> Result<()> {
        let started = Instant::now();
        // An oversized message is read from its headers only, answered, and
        // set aside for an operator.
        let done = if incoming.oversized {
            warn!(key = %incoming.key, limit = self.settings.intake.max_message_bytes, "message over the size limit, set aside");
            Disposition::Quarantine("over the size limit".into())
        } else {
            Disposition::Processed
        };
        let sub = match message::parse(&incoming.bytes, &self.settings.intake.address) {
            Ok(sub) => sub,
            Err(e) => {
                metrics.message("set-aside", []);
                warn!(key = %incoming.key, error = %crate::logging::scrub(&e.to_string()), "unparsable message, set aside");
                return self
                    .mailbox
                    .settle(&incoming.key, Disposition::Quarantine(e.to_string()))
                    .await;
            }
        };
        // Files from nobody we can answer: for an operator, never dropped.
        let done = if sub.silence == Some(message::Silence::UnreadableSender) {
            warn!(key = %incoming.key, message_id = %sub.message_id, "sender unreadable, set aside in quarantine");
            Disposition::Quarantine("sender unreadable: the From header cannot be parsed".into())
        } else {
            done
        };
        if store.was_processed(&sub.fingerprint)? {
            metrics.message("redelivered", []);
            info!(message_id = %sub.message_id, outcome = "ignored", "already handled (re-delivery)");
            // A stop between the commit and clearing its mark leaves one.
            store.done_reading(&sub.fingerprint)?;
            return self.mailbox.settle(&incoming.key, done).await;
        }
        // A reply to an approval request is staff's, never an applicant's.
        let (intake, authserv_id) = (
            &self.settings.intake.address,
            &self.settings.staff.authserv_id,
        );
        let raw = message::defused(&incoming.bytes);
        if let Some(reply) = StaffReply::read(&raw, intake, authserv_id) {
            let acted =
                signoff::take_reply(store, &self.settings, &self.desk, &sub, &reply, Utc::now())?;
            let outcome = if acted {
                "staff-decision"
            } else {
                "staff-ignored"
            };
            metrics.message(outcome, []);
            return self.mailbox.settle(&incoming.key, done).await;
        }
        // A message the daemon stopped on twice is not read a third time.
        let crashed_on = store.reads_begun(&sub.fingerprint)? >= crate::store::MAX_READS;
        if crashed_on {
            error!(message_id = %sub.message_id, "the daemon stopped while reading this message: set aside unread");
        } else if !incoming.oversized {
            store.begin_reading(&sub.fingerprint)?;
        }
        let (commit, reasons, cut_short) =
            self.decide(store, &sub, &incoming, Utc::now(), crashed_on)?;
        let decided = started.elapsed();
        let fresh = store.commit(&commit)?;
        store.done_reading(&sub.fingerprint)?;
        let done = if crashed_on {
            Disposition::Quarantine("the daemon stopped while reading it".into())
        } else if cut_short {
            warn!(message_id = %sub.message_id, limit_s = self.settings.limits.message_seconds, "message over its time budget, set aside");
            Disposition::Quarantine("over the time budget".into())
        } else {
            done
        };
        if let Some(p) = &commit.processed {
            let outcome = p.outcome.map(|o| o.as_str()).unwrap_or("set-aside");
            let codes: Vec<String> = reasons.iter().map(Reason::to_string).collect();
            info!(
                message_id = %sub.message_id,
                outcome,
                requests = %p.requests.join(","),
                reasons = %codes.join(","),
                replies = commit.outgoing.len(),
                fresh,
                decide_ms = decided.as_millis() as u64,
                commit_ms = (started.elapsed() - decided).as_millis() as u64,
                ms = started.elapsed().as_millis() as u64,
                "message handled"
            );
            metrics.message(outcome, codes);
        }
        self.mailbox.settle(&incoming.key, done).await
    }

    /// Runs the pure pipeline and turns its result into one store commit,
    /// with every reason given (the message's and its requests'), and
    /// whether the time budget cut the reading short. `unread`: answer
    /// without reading any PDF (the daemon stopped on it before).
    fn decide(
        &self,
        store: &Store,
        sub: &message::Submission,
        incoming: &Incoming,
        now: DateTime<Utc>,
        unread: bool,
    ) -> Result<(Commit, Vec<Reason>, bool)> {
        let mut answered = Vec::new();
        for id in &sub.answers {
            for req in store.answered_requests(id)? {
                if let Some(r) = store.request(&req)? {
                    answered.push(r);
                }
            }
        }
        // What is on file is asked through the store's index, never read whole.
        let lookup = store.lookup();
        let known = Known {
            on_file: &lookup,
            answered,
            processing_date: store.processing_date()?,
        };
        let mut next_id = |year| store.next_request_id(year);
        let budget = if unread {
            pipeline::Budget::spent_already()
        } else {
            let seconds = self.settings.limits.message_seconds.into();
            pipeline::Budget::from_now(Duration::from_secs(seconds))
        };
        let handled = if incoming.oversized {
            pipeline::too_large(&self.desk, sub, &known)
        } else {
            tokio::task::block_in_place(|| {
                pipeline::handle(
                    &self.desk,
                    sub,
                    &known,
                    incoming.received_at,
                    now,
                    &mut next_id,
                    budget,
                )
            })?
        };
        lookup.finish()?;
        let cut_short = handled.cut_short;

        let mut commit = Commit {
            fingerprint: sub.fingerprint.clone(),
            processed: Some(Processed {
                message_id: sub.message_id.clone(),
                at: now,
                outcome: Some(handled.outcome),
                requests: handled.requests.iter().map(|r| r.id.clone()).collect(),
            }),
            requests: handled.requests.clone(),
            ..Default::default()
        };
        // Staff will see the PDF and the crops of what waits for them.
        for ((request, report), attachment) in handled
            .requests
            .iter()
            .zip(&handled.forms)
            .zip(&sub.attachments)
        {
            if let (true, Some(report)) = (request.state.is_pending(), report) {
                let document = Document {
                    pdf: attachment.bytes.clone(),
                    crops: report.crops.clone(),
                };
                commit.documents.push((request.id.clone(), document));
            }
        }
        if let Some(reply) = handled.reply {
            let limit = self.settings.replies.per_sender_per_day as usize;
            let sent_today = store.replies_since(&sub.from, now - chrono::Duration::hours(24))?;
            if sent_today >= limit {
                warn!(message_id = %sub.message_id, limit, "reply limit reached for this sender, no reply");
            } else {
                match outgoing(&reply, &self.settings.intake.address, now) {
                    Ok((outgoing, reply_id)) => {
                        let about = commit
                            .processed
                            .as_ref()
                            .map(|p| p.requests.clone())
                            .unwrap_or_default();
                        commit.answer_index.push((reply_id, about));
                        commit.answered.push((sub.from.clone(), now));
                        commit.outgoing.push(outgoing);
                    }
                    // An address lettre will not write (a hostile From) gets no reply.
                    Err(e) => {
                        warn!(message_id = %sub.message_id, error = %crate::logging::scrub(&e.to_string()), "reply not rendered, none sent")
                    }
                }
            }
        }
        let reasons = handled
            .message_reasons
            .iter()
            .chain(handled.requests.iter().flat_map(|r| &r.reasons))
            .cloned()
            .collect();
        Ok((commit, reasons, cut_short))
    }
}

/// Between two messages: past `limit_mib` of resident memory the daemon
/// stops with an error (its unit restarts it, memory given back), rather
/// than grow towards the unit's `MemoryMax=` and be killed mid-message.
fn check_resident(limit_mib: u64) -> Result<()> {
    let Some(kib) = resident_kib() else {
        return Ok(());
    };
    if kib / 1024 > limit_mib {
        anyhow::bail!(
            "resident memory {} MiB over limits.memory_max_mb = {limit_mib}: stopping to be restarted",
            kib / 1024
        );
    }
    Ok(())
}

/// This process's resident set (`VmRSS`), where /proc tells it.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Renders a reply sent from `from` (the intake address) into an outgoing
/// message with a fresh Message-ID; returns it with that Message-ID.
pub fn outgoing(
    reply: &Reply,
    from: &str,
    now: DateTime<Utc>,
) -> Result<(Outgoing, String), reply::RenderError> {
    let sender = crate::address::Address::parse(from);
    let domain = sender.as_ref().map_or("localhost", |a| a.domain());
    let token: u64 = rand::rng().random();
    let message_id = format!(
        "<{}.{token:016x}.guichet@{domain}>",
        now.format("%Y%m%d%H%M%S")
    );
    let raw = reply::render(reply, from, &message_id, now)?;
    let id = format!(
        "{}-{token:016x}-{}",
        now.format("%Y%m%dT%H%M%S%3f"),
        reply.kind.as_str()
    );
    Ok((
        Outgoing {
            id,
            envelope_from: from.to_string(),
            to: vec![reply.to.clone()],
            raw,
        },
        message_id,
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_wakes_when_a_reply_is_due_not_later_never_in_a_spin() {
        let now = Utc::now();
        let max = Duration::from_secs(60);
        assert_eq!(wait_until(None, max, now), max);
        let soon = now + chrono::Duration::seconds(5);
        assert_eq!(wait_until(Some(soon), max, now), Duration::from_secs(5));
        let late = now + chrono::Duration::seconds(600);
        assert_eq!(wait_until(Some(late), max, now), max);
        let past = now - chrono::Duration::seconds(5);
        assert_eq!(wait_until(Some(past), max, now), Duration::from_secs(1));
    }

    #[test]
    fn resident_memory_is_read_and_a_ceiling_under_it_stops_the_daemon() {
        let kib = resident_kib().expect("VmRSS in /proc/self/status");
        assert!(kib > 0);
        assert!(check_resident(kib / 1024 + 1024).is_ok());
        assert!(check_resident(0).is_err());
    }
}
