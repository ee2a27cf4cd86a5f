//! The daemon: one loop over rounds of work, each a sequence of steps of
//! the same shape (ask the store a narrow question, call a pure `decide`
//! over values and `now`, write one batch), one file per step:
//!
//! - [`applicant_mail`]: an applicant's message through the pipeline;
//! - [`staff_replies`]: a reply to an approval request, judged;
//! - [`approval_requests`]: approval requests out to staff;
//! - [`outbox`]: what is due sent through the transport;
//! - [`housekeeping`]: hand-offs, the digest, retention, kept mail.
//!
//! Order of work for one message, the heart of "nothing lost, nothing
//! twice": parse → route ([`route`](crate::route), as `guichet check` does:
//! already handled? then only settle) → decide (pure) → one store
//! transaction with requests, replies and the processed mark → flush →
//! move the message out of the inbox. A crash anywhere before the move
//! re-reads the message, and the processed mark makes that harmless.
//!
//! The stop is passed in ([`Hooks`]): a round ends after the message in
//! hand. No module imports this one but the command line.

pub mod applicant_mail;
pub mod approval_requests;
pub mod housekeeping;
pub mod outbox;
pub mod staff_replies;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use crate::config::Settings;
use crate::intake::imap::{MemoryCursor, UidMark};
use crate::intake::{self, Disposition, Incoming, Mailbox};
use crate::message;
use crate::ops::{self, notify, Hooks, Metrics, Signals};
use crate::outbox::Transport;
use crate::pipeline::Desk;
use crate::route::{route, Route};
use crate::store::Store;

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
    let desk = Desk::from_settings(&settings)?;
    let desk = ops::desk::time_reader(desk, hooks.metrics.clone());
    // The store opens (and is let go again): with the mailbox reached, ready.
    let position = MemoryCursor::at(
        Store::open_waiting(&settings.store.path, Duration::from_secs(60))?.imap_position()?,
    );
    hooks.position = Some(position.clone());
    // One token source for both, so that one token serves IMAP and SMTP.
    let tokens = crate::oauth2::TokenSource::from_settings(&settings)?;
    let mailbox = intake::Configured::from_settings(&settings, &position, tokens.clone())?;
    let transport = crate::outbox::Configured::from_settings(&settings, tokens)?;
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
        let store = Store::open_waiting(&self.settings.store.path, Duration::from_secs(60))?;
        // Where the intake moved between rounds (a renumbering noticed on
        // reconnect), then after each message.
        keep_position(&store, hooks)?;
        let result = self.round(&store, hooks).await;
        // Even after a failed round: what was settled stays settled.
        let kept = keep_position(&store, hooks);
        let (report, erased) = result?;
        kept?;
        if erased {
            // Erased values linger in sled's old segments until rewritten.
            match store.rewrite(&self.settings.store.path) {
                Ok(entries) => info!(entries, "store rewritten after erasure"),
                Err(e) => warn!(
                    error = format!("{e:#}"),
                    "store not rewritten after erasure"
                ),
            }
        }
        Ok(report)
    }

    /// The work of one round, with the store open; says too whether
    /// retention erased anything (the store is then rewritten).
    async fn round(&mut self, store: &Store, hooks: &Hooks) -> Result<(TickReport, bool)> {
        let mut report = TickReport::default();
        let mut erased = false;
        // A backlog comes one message at a time: one in memory, never all.
        // A message handed out again within the round was not settled: it
        // waits for the next round rather than being taken in a loop.
        let mut taken = std::collections::HashSet::new();
        while !hooks.stopping() {
            let next = self.mailbox.next().await;
            hooks.metrics.mailbox_connected(next.is_ok());
            // A mailbox that cannot be used (its folders refused) stops the
            // daemon; `status` says why after it stopped.
            let stop = next.as_ref().err().map(|e| format!("{e:#}"));
            store.record_mailbox_stop(stop.as_deref(), Utc::now())?;
            let Some(incoming) = next? else {
                break;
            };
            if !taken.insert(incoming.key.clone()) {
                break;
            }
            self.take(store, incoming, &hooks.metrics).await?;
            keep_position(store, hooks)?;
            report.handled += 1;
            hooks.alive();
            check_resident(self.settings.limits.memory_max_mb)?;
        }
        if !hooks.stopping() {
            housekeeping::hand_off(store, &self.settings, Utc::now()).await?;
            approval_requests::send(store, &self.settings, &self.desk.templates, Utc::now())?;
            housekeeping::digest_if_due(store, &self.settings, &self.desk.templates, Utc::now())?;
        }
        // Taken after sign-off, so that what it queued is due now.
        let now = Utc::now();
        if !hooks.stopping() {
            report.sent =
                outbox::send_due(store, &self.transport, &self.settings, now, &hooks.metrics)
                    .await?;
            erased = housekeeping::retention(store, &self.settings, now, &hooks.metrics)?;
            if let Err(e) = housekeeping::forget_kept_mail(store, &mut self.mailbox).await {
                warn!(error = format!("{e:#}"), "kept mail not removed yet");
            }
            store.set_last_poll(now)?;
        }
        hooks.metrics.snapshot(ops::metrics::Snapshot {
            status: store.status()?,
            oldest_pending: store.oldest_pending()?,
            at: now,
        });
        report.next_send = outbox::next_send(store)?;
        store.flush()?;
        Ok((report, erased))
    }

    /// Re-reads the operator's templates and role list (SIGHUP). On failure
    /// the files in use stay, and the error is logged.
    pub fn reload(&mut self, hooks: &Hooks) {
        notify::reloading();
        match self.desk.refit(&self.settings) {
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

    /// Handles one message and settles it once its effects are safe: the
    /// route is [`route`]'s, the step the route's.
    async fn take(&mut self, store: &Store, incoming: Incoming, metrics: &Metrics) -> Result<()> {
        // An oversized message is read from its headers only, answered, and
        // set aside for an operator.
        let done = if incoming.oversized {
            warn!(key = %incoming.key, limit = self.settings.intake.max_message_bytes, "message over the size limit, set aside");
            Disposition::Quarantine("over the size limit".into())
        } else {
            Disposition::Processed
        };
        let raw = message::defused(&incoming.bytes);
        let sub = match message::parse_defused(&incoming.bytes, &raw, &self.settings.intake.address)
        {
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
        let processed = store.was_processed(&sub.fingerprint)?;
        let done = match route(&raw, incoming.oversized, processed, &self.settings) {
            Route::Redelivery => {
                metrics.message("redelivered", []);
                info!(message_id = %sub.message_id, outcome = "ignored", "already handled (re-delivery)");
                // A stop between the commit and clearing its mark leaves one.
                store.done_reading(&sub.fingerprint)?;
                done
            }
            Route::Staff(reply) => {
                let acted = staff_replies::take(
                    store,
                    &self.settings,
                    &self.desk,
                    &sub,
                    &reply,
                    Utc::now(),
                )?;
                let outcome = if acted {
                    "staff-decision"
                } else {
                    "staff-ignored"
                };
                metrics.message(outcome, []);
                done
            }
            Route::TooLarge | Route::Applicant => applicant_mail::take(
                store,
                &self.settings,
                &self.desk,
                &sub,
                &incoming,
                metrics,
                done,
            )?,
        };
        self.mailbox.settle(&incoming.key, done).await
    }
}

/// Writes the IMAP position the intake moved, when it moved: the store
/// keeps the intake's value, the intake never sees the store.
fn keep_position(store: &Store, hooks: &Hooks) -> Result<()> {
    let Some(mark) = hooks.position.as_ref().and_then(MemoryCursor::get) else {
        return Ok(());
    };
    if store.imap_position::<UidMark>()? != Some(mark) {
        store.set_imap_position(&mark)?;
    }
    Ok(())
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
    fn the_position_the_intake_moved_is_written_to_the_store_and_read_back() {
        use crate::intake::imap::UidCursor;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let position = MemoryCursor::at(store.imap_position().unwrap());
        let hooks = Hooks {
            position: Some(position.clone()),
            ..Hooks::default()
        };
        keep_position(&store, &hooks).unwrap();
        assert_eq!(store.imap_position::<UidMark>().unwrap(), None);
        let mark = UidMark {
            uidvalidity: 7,
            last_uid: 42,
        };
        position.save(mark).unwrap();
        keep_position(&store, &hooks).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let again = MemoryCursor::at(store.imap_position().unwrap());
        assert_eq!(again.get(), Some(mark));
    }

    #[test]
    fn resident_memory_is_read_and_a_ceiling_under_it_stops_the_daemon() {
        let kib = resident_kib().expect("VmRSS in /proc/self/status");
        assert!(kib > 0);
        assert!(check_resident(kib / 1024 + 1024).is_ok());
        assert!(check_resident(0).is_err());
    }
}
