//! The daemon's step for a staff reply (a message to a token plus-address):
//! ask the store for the token's record and its request (and, through its
//! index, what else is on file), judge the reply with the pure
//! [`staff::signoff::judge`](crate::staff::signoff::judge), and commit the verdict
//! with the message's processed mark in one [`SignoffCommit`].

use anyhow::Result;
use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::config::Settings;
use crate::message::Submission;
use crate::outbox::Outgoing;
use crate::pipeline::Desk;
use crate::reply;
use crate::reply::notices::Problem;
use crate::staff::signoff::{judge, Bench, NoAction, Verdict};
use crate::staff::StaffReply;
use crate::store::signoff::SignoffCommit;
use crate::store::{Processed, Store};

/// Handles one staff reply (a message to a token plus-address): judges it
/// and commits the verdict with the message's processed mark (a staff
/// notice when it changes nothing), or only the mark when it gets no
/// answer. Returns whether a decision was applied.
pub fn take(
    store: &Store,
    settings: &Settings,
    desk: &Desk,
    sub: &Submission,
    reply: &StaffReply,
    now: DateTime<Utc>,
) -> Result<bool> {
    let record = store.token(&reply.token.hash())?;
    let request = match &record {
        Some(r) => store.request(&r.request_id)?,
        None => None,
    };
    let on_file = store.lookup();
    // A store error counts as taken: better a suffix than a duplicate.
    let taken = |name: &str| store.username_taken(name).unwrap_or(true);
    let bench = Bench {
        templates: &desk.templates,
        roles: &desk.roles,
        staff: &settings.staff.members,
        intake: &settings.intake.address,
        on_file: &on_file,
        taken: &taken,
        now,
    };
    let verdict = tokio::task::block_in_place(|| {
        judge(
            &bench,
            reply,
            record.as_ref(),
            request.as_ref(),
            sub.silence.is_some(),
            &sub.message_id,
        )
    });
    on_file.finish()?;
    let mut commit = SignoffCommit {
        fingerprint: sub.fingerprint.clone(),
        processed: Some(Processed {
            message_id: sub.message_id.clone(),
            at: now,
            outcome: None,
            requests: record.iter().map(|r| r.request_id.clone()).collect(),
        }),
        ..Default::default()
    };
    let from = reply.from.as_deref().unwrap_or("-");
    let request_id = record.as_ref().map_or("-", |r| r.request_id.as_str());
    match verdict.and_then(|v| Ok((render_all(&v, &settings.intake.address, now)?, v))) {
        Ok((rendered, Verdict::Unchanged { problem, .. })) => {
            commit.outgoing = rendered.into_iter().map(|(mail, _)| mail).collect();
            let fresh = store.commit_signoff(&commit)?;
            if fresh {
                info!(message_id = %sub.message_id, request = request_id, staff = from, problem = ?problem_code(&problem), "staff reply changes nothing; staff notice sent");
            }
            Ok(false)
        }
        Ok((rendered, verdict)) => {
            let Some(request) = verdict.request().cloned() else {
                return Ok(false);
            };
            let decision = request.state;
            if let Verdict::Correction { .. } = verdict {
                // The applicant's corrected form, in answer to this
                // message, resumes the request.
                commit.answer_index = rendered
                    .iter()
                    .map(|(_, id)| (id.clone(), vec![request.id.clone()]))
                    .collect();
            }
            commit.outgoing = rendered.into_iter().map(|(mail, _)| mail).collect();
            commit.closed.push(request.id.clone());
            commit.tokens.extend(record.clone().map(|mut r| {
                r.used = true;
                r
            }));
            if let Verdict::Approved { account, .. } = verdict {
                commit.accounts.push(*account);
            }
            commit.requests.push(request);
            let fresh = store.commit_signoff(&commit)?;
            if fresh {
                info!(message_id = %sub.message_id, request = request_id, staff = %crate::logging::pseudonym(from), decision = %decision, "staff decision applied");
            }
            Ok(fresh)
        }
        Err(why) => {
            warn!(message_id = %sub.message_id, request = request_id, from = %crate::logging::pseudonym(from), reason = %crate::logging::scrub(&why.to_string()), "staff reply changes nothing");
            store.commit_signoff(&commit)?;
            Ok(false)
        }
    }
}

/// A short name for a notice's problem, for logs (never a value).
fn problem_code(problem: &Problem) -> &'static str {
    match problem {
        Problem::NoVerb => "no_verb",
        Problem::Conditional => "conditional",
        Problem::NoMessage => "no_message",
        Problem::UnknownField(_) => "unknown_field",
        Problem::BadValue(_) => "bad_value",
        Problem::Reasons(_) => "reasons_left",
        Problem::TokenUsed => "token_used",
        Problem::TokenExpired => "token_expired",
        Problem::TokenUnknown => "token_unknown",
        Problem::OtherStaff => "other_staff",
        Problem::NoRequest => "no_request",
        Problem::NotWaiting(_) => "not_waiting",
        Problem::NoAddress(_) => "no_address",
    }
}

/// Every message of a verdict, rendered, with its Message-ID; one failure
/// stops the verdict.
fn render_all(
    verdict: &Verdict,
    from: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(Outgoing, String)>, NoAction> {
    verdict
        .messages()
        .into_iter()
        .map(|reply| Ok(reply::outgoing(reply, from, now)?))
        .collect()
}
