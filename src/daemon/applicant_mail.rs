//! The daemon's step for an applicant's message: ask the store what
//! matters to it (the requests it answers, the index of what is on file,
//! the processing date, the replies sent to its sender today), run the
//! pure pipeline, turn the result into one [`Commit`] ([`decide`], over
//! values and `now`), write it, and say where the message goes.

use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use crate::config::Settings;
use crate::domain::Reason;
use crate::intake::{Disposition, Incoming};
use crate::message::Submission;
use crate::ops::Metrics;
use crate::pipeline::{self, Desk, Handled, Known};
use crate::reply;
use crate::store::{Commit, Document, Processed, Store};

/// Handles one applicant message whose route is the pipeline (or, when
/// `incoming.oversized`, the answer to a message too large to read);
/// `done` is where it goes when nothing else decides. Returns where it goes.
pub fn take(
    store: &Store,
    settings: &Settings,
    desk: &Desk,
    sub: &Submission,
    incoming: &Incoming,
    metrics: &Metrics,
    done: Disposition,
) -> Result<Disposition> {
    let started = Instant::now();
    // A message the daemon stopped on twice is not read a third time.
    let crashed_on = store.reads_begun(&sub.fingerprint)? >= crate::store::MAX_READS;
    if crashed_on {
        error!(message_id = %sub.message_id, "the daemon stopped while reading this message: set aside unread");
    } else if !incoming.oversized {
        store.begin_reading(&sub.fingerprint)?;
    }
    let now = Utc::now();
    let handled = handle(store, settings, desk, sub, incoming, now, crashed_on)?;
    let sent_today = match &handled.reply {
        Some(_) => store.replies_since(&sub.from, now - chrono::Duration::hours(24))?,
        None => 0,
    };
    let limit = settings.replies.per_sender_per_day as usize;
    let decided = decide(
        handled,
        sub,
        &settings.intake.address,
        limit,
        sent_today,
        now,
    );
    let decide_time = started.elapsed();
    let fresh = store.commit(&decided.commit)?;
    store.done_reading(&sub.fingerprint)?;
    let done = if crashed_on {
        Disposition::Quarantine("the daemon stopped while reading it".into())
    } else if decided.cut_short {
        warn!(message_id = %sub.message_id, limit_s = settings.limits.message_seconds, "message over its time budget, set aside");
        Disposition::Quarantine("over the time budget".into())
    } else {
        done
    };
    let commit = &decided.commit;
    if let Some(p) = &commit.processed {
        let outcome = p.outcome.map(|o| o.as_str()).unwrap_or("set-aside");
        let codes: Vec<String> = decided.reasons.iter().map(Reason::to_string).collect();
        info!(
            message_id = %sub.message_id,
            outcome,
            requests = %p.requests.join(","),
            reasons = %codes.join(","),
            replies = commit.outgoing.len(),
            fresh,
            decide_ms = decide_time.as_millis() as u64,
            commit_ms = (started.elapsed() - decide_time).as_millis() as u64,
            ms = started.elapsed().as_millis() as u64,
            "message handled"
        );
        metrics.message(outcome, codes);
    }
    Ok(done)
}

/// Runs the pure pipeline over what the store says about the message.
/// `unread`: answer without reading any PDF (the daemon stopped on it before).
fn handle(
    store: &Store,
    settings: &Settings,
    desk: &Desk,
    sub: &Submission,
    incoming: &Incoming,
    now: DateTime<Utc>,
    unread: bool,
) -> Result<Handled> {
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
        let seconds = settings.limits.message_seconds.into();
        pipeline::Budget::from_now(Duration::from_secs(seconds))
    };
    let handled = if incoming.oversized {
        pipeline::too_large(desk, sub, &known)
    } else {
        tokio::task::block_in_place(|| {
            pipeline::handle(
                desk,
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
    Ok(handled)
}

/// What handling one message decided: the one commit, every reason given
/// (the message's and its requests'), and whether the time budget cut the
/// reading short.
pub struct Decided {
    pub commit: Commit,
    pub reasons: Vec<Reason>,
    pub cut_short: bool,
}

/// Turns the pipeline's result into one store commit, over values: the
/// requests, the documents staff will see, the processed mark, and the
/// reply (from `intake`) unless `sent_today` reached the sender's `limit`.
pub fn decide(
    handled: Handled,
    sub: &Submission,
    intake: &str,
    limit: usize,
    sent_today: usize,
    now: DateTime<Utc>,
) -> Decided {
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
    if let Some(reply) = &handled.reply {
        if sent_today >= limit {
            warn!(message_id = %sub.message_id, limit, "reply limit reached for this sender, no reply");
        } else {
            match reply::outgoing(reply, intake, now) {
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
    Decided {
        commit,
        reasons,
        cut_short: handled.cut_short,
    }
}
