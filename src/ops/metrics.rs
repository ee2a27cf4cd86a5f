//! The desk's numbers in the Prometheus text format (version 0.0.4).
//!
//! Counters (messages by outcome, reasons by code, reading time, sends) live
//! in the process and start from zero at each start, as Prometheus expects;
//! gauges about the queue are a snapshot the daemon takes from the store at
//! the end of each round, because only the daemon's round holds the store.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::domain::{FormReport, ReadError};
use crate::reader::FormReader;
use crate::store::Status;

/// Upper bounds (seconds) of the reading-time histogram's buckets: from a
/// typed PDF (well under a second) to a poor scan through OCR.
const READ_BUCKETS: [f64; 9] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// A cumulative histogram in the Prometheus sense.
#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; READ_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, n) in READ_BUCKETS.iter().zip(&mut self.counts) {
            if seconds <= *bound {
                *n += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// What the store said at the end of the last round.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub status: Status,
    /// Reception time of the oldest request waiting for staff.
    pub oldest_pending: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    messages: BTreeMap<String, u64>,
    reasons: BTreeMap<String, u64>,
    reading: Histogram,
    sent: u64,
    send_retries: u64,
    send_refused: u64,
    documents_purged: u64,
    reloads: BTreeMap<&'static str, u64>,
    mailbox_connected: Option<bool>,
    /// Known once the daemon tried to send: `None` while sending works.
    sending_refused: Option<Option<(DateTime<Utc>, String)>>,
    snapshot: Option<Snapshot>,
}

/// The desk's counters and its last snapshot of the store, shared by the
/// daemon (which writes) and the endpoint (which reads).
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Metrics {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while counting leaves numbers worth showing.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One message handled, with its outcome (`set-aside` when none) and the
    /// reason codes of its requests and of the message itself.
    pub fn message(&self, outcome: &str, reasons: impl IntoIterator<Item = String>) {
        let mut s = self.lock();
        *s.messages.entry(outcome.to_string()).or_default() += 1;
        for r in reasons {
            *s.reasons.entry(r).or_default() += 1;
        }
    }

    pub fn form_read(&self, took: Duration) {
        self.lock().reading.observe(took.as_secs_f64());
    }

    pub fn sent(&self, n: usize) {
        self.lock().sent += n as u64;
    }

    pub fn send_retry(&self) {
        self.lock().send_retries += 1;
    }

    pub fn send_refused(&self) {
        self.lock().send_refused += 1;
    }

    pub fn documents_purged(&self, n: usize) {
        self.lock().documents_purged += n as u64;
    }

    /// A SIGHUP reload, `ok` or `failed`.
    pub fn reload(&self, ok: bool) {
        *self
            .lock()
            .reloads
            .entry(if ok { "ok" } else { "failed" })
            .or_default() += 1;
    }

    /// Whether the mailbox (Maildir folder, IMAP server) answers. The IMAP
    /// side sets it on connect and on loss; the daemon after each fetch.
    pub fn mailbox_connected(&self, up: bool) {
        self.lock().mailbox_connected = Some(up);
    }

    /// Whether sending is refused (the outbox's pause): since when, and
    /// what kind of failure (`Paused::kind`).
    pub fn sending_refused(&self, refused: Option<(DateTime<Utc>, &str)>) {
        self.lock().sending_refused = Some(refused.map(|(since, kind)| (since, kind.to_string())));
    }

    pub fn snapshot(&self, snapshot: Snapshot) {
        self.lock().snapshot = Some(snapshot);
    }

    /// The exposition text at `now`.
    pub fn render(&self, now: DateTime<Utc>) -> String {
        let s = self.lock();
        let mut out = String::with_capacity(4096);
        family(
            &mut out,
            "guichet_messages_total",
            "counter",
            "Messages handled, by outcome.",
        );
        for (outcome, n) in &s.messages {
            sample(
                &mut out,
                "guichet_messages_total",
                &[("outcome", outcome)],
                *n as f64,
            );
        }
        family(
            &mut out,
            "guichet_reasons_total",
            "counter",
            "Reason codes given, by code.",
        );
        for (code, n) in &s.reasons {
            sample(
                &mut out,
                "guichet_reasons_total",
                &[("code", code)],
                *n as f64,
            );
        }
        histogram(
            &mut out,
            "guichet_form_read_seconds",
            "Time to read one PDF.",
            &s.reading,
        );
        counter(
            &mut out,
            "guichet_outbox_sent_total",
            "Messages a transport accepted.",
            s.sent,
        );
        counter(
            &mut out,
            "guichet_outbox_retries_total",
            "Attempts the server or the sign-in refused (sending paused, tried again later).",
            s.send_retries,
        );
        counter(
            &mut out,
            "guichet_outbox_refused_total",
            "Messages refused for good.",
            s.send_refused,
        );
        counter(
            &mut out,
            "guichet_documents_purged_total",
            "Requests whose PDF and crops were purged by retention.",
            s.documents_purged,
        );
        family(
            &mut out,
            "guichet_reloads_total",
            "counter",
            "SIGHUP reloads of templates and role list.",
        );
        for (result, n) in &s.reloads {
            sample(
                &mut out,
                "guichet_reloads_total",
                &[("result", result)],
                *n as f64,
            );
        }
        if let Some(up) = s.mailbox_connected {
            gauge(
                &mut out,
                "guichet_mailbox_connected",
                "1 when the mailbox answered its last request.",
                f64::from(u8::from(up)),
            );
        }
        if let Some(refused) = &s.sending_refused {
            gauge(
                &mut out,
                "guichet_sending_refused",
                "1 while the SMTP server or the sign-in refuses replies (all wait in the outbox).",
                f64::from(u8::from(refused.is_some())),
            );
            if let Some((since, why)) = refused {
                family(
                    &mut out,
                    "guichet_sending_refused_since_seconds",
                    "gauge",
                    "When sending began to be refused (Unix time), by kind of failure.",
                );
                sample(
                    &mut out,
                    "guichet_sending_refused_since_seconds",
                    &[("why", why)],
                    since.timestamp() as f64,
                );
            }
        }
        if let Some(snap) = &s.snapshot {
            family(
                &mut out,
                "guichet_requests",
                "gauge",
                "Requests in the store, by state.",
            );
            for (state, n) in &snap.status.depth {
                sample(&mut out, "guichet_requests", &[("state", state)], *n as f64);
            }
            let age = snap
                .oldest_pending
                .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            gauge(
                &mut out,
                "guichet_oldest_pending_age_seconds",
                "Age of the oldest request waiting for staff (0: none).",
                age,
            );
            gauge(
                &mut out,
                "guichet_outbox_backlog",
                "Messages waiting to be sent.",
                snap.status.outbox_pending as f64,
            );
            gauge(
                &mut out,
                "guichet_outbox_failed",
                "Messages refused for good, kept for operators.",
                snap.status.outbox_failed as f64,
            );
            gauge(
                &mut out,
                "guichet_processed_messages",
                "Messages in the processed index.",
                snap.status.messages_processed as f64,
            );
            gauge(
                &mut out,
                "guichet_last_round_timestamp_seconds",
                "End of the daemon's last round of work.",
                snap.at.timestamp() as f64,
            );
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

fn counter(out: &mut String, name: &str, help: &str, n: u64) {
    family(out, name, "counter", help);
    sample(out, name, &[], n as f64);
}

fn gauge(out: &mut String, name: &str, help: &str, v: f64) {
    family(out, name, "gauge", help);
    sample(out, name, &[], v);
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    family(out, name, "histogram", help);
    let bucket = format!("{name}_bucket");
    for (bound, n) in READ_BUCKETS.iter().zip(h.counts) {
        sample(out, &bucket, &[("le", &bound.to_string())], n as f64);
    }
    sample(out, &bucket, &[("le", "+Inf")], h.count as f64);
    sample(out, &format!("{name}_sum"), &[], h.sum);
    sample(out, &format!("{name}_count"), &[], h.count as f64);
}

/// Label values may hold `\`, `"` and newlines, escaped as the format says.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A form reader that times each reading into the metrics.
pub struct TimedReader {
    inner: Box<dyn FormReader + Send + Sync>,
    metrics: Arc<Metrics>,
}

impl TimedReader {
    pub fn new(inner: Box<dyn FormReader + Send + Sync>, metrics: Arc<Metrics>) -> TimedReader {
        TimedReader { inner, metrics }
    }
}

impl FormReader for TimedReader {
    fn read(&self, pdf: &[u8]) -> Result<FormReport, ReadError> {
        self.timed(|| self.inner.read(pdf))
    }

    fn read_before(&self, pdf: &[u8], deadline: Instant) -> Result<FormReport, ReadError> {
        self.timed(|| self.inner.read_before(pdf, deadline))
    }
}

impl TimedReader {
    fn timed<T>(&self, read: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = read();
        self.metrics.form_read(started.elapsed());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.form_read(Duration::from_millis(200));
        m.form_read(Duration::from_secs(3));
        m.message("rejected", ["weird\"code\\\n".to_string()]);
        let text = m.render(Utc::now());
        assert!(
            text.contains("guichet_form_read_seconds_bucket{le=\"0.1\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("guichet_form_read_seconds_bucket{le=\"0.25\"} 1\n"));
        assert!(text.contains("guichet_form_read_seconds_bucket{le=\"5\"} 2\n"));
        assert!(text.contains("guichet_form_read_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("guichet_form_read_seconds_count 2\n"));
        assert!(
            text.contains("guichet_reasons_total{code=\"weird\\\"code\\\\\\n\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("guichet_messages_total{outcome=\"rejected\"} 1\n"));
    }
}
