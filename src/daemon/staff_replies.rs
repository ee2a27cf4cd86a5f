//! The daemon's step for a staff reply (a message to a token plus-address):
//! ask the store for the token's record and its request (and, through its
//! index, what else is on file), judge the reply with the pure
//! [`judge`], turn the verdict into one [`SignoffCommit`] with the
//! message's processed mark ([`decide`], over values), and write it.

use anyhow::Result;
use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::config::Settings;
use crate::domain::{State, TokenRecord};
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
    let decided = decide(verdict, record.as_ref(), sub, &settings.intake.address, now);
    let fresh = store.commit_signoff(&decided.commit)?;
    let from = reply.from.as_deref().unwrap_or("-");
    let request_id = record.as_ref().map_or("-", |r| r.request_id.as_str());
    match decided.effect {
        Effect::Notice(problem) => {
            if fresh {
                info!(message_id = %sub.message_id, request = request_id, staff = %crate::logging::pseudonym(from), problem = ?problem_code(&problem), "staff reply changes nothing; staff notice sent");
            }
            Ok(false)
        }
        Effect::Decision(decision) => {
            if fresh {
                info!(message_id = %sub.message_id, request = request_id, staff = %crate::logging::pseudonym(from), decision = %decision, "staff decision applied");
            }
            Ok(fresh)
        }
        Effect::Nothing(why) => {
            warn!(message_id = %sub.message_id, request = request_id, from = %crate::logging::pseudonym(from), reason = %crate::logging::scrub(&why.to_string()), "staff reply changes nothing");
            Ok(false)
        }
    }
}

/// What a staff reply does, for the log.
pub enum Effect {
    /// The request moved to this state.
    Decision(State),
    /// Nothing changed; one staff notice says why.
    Notice(Problem),
    /// Nothing changed and nobody is answered.
    Nothing(NoAction),
}

/// The one commit a judged staff reply makes, and its effect.
pub struct Decided {
    pub commit: SignoffCommit,
    pub effect: Effect,
}

/// Turns a verdict into one commit, over values: the reply's processed
/// mark always; with a decision, the request, its messages (rendered from
/// `intake`), its approval closed, its token used, the account; with a
/// staff notice, the notice. A message that cannot be rendered stops the
/// verdict: only the mark is written.
pub fn decide(
    verdict: Result<Verdict, NoAction>,
    record: Option<&TokenRecord>,
    sub: &Submission,
    intake: &str,
    now: DateTime<Utc>,
) -> Decided {
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
    let (rendered, verdict) = match verdict.and_then(|v| Ok((render_all(&v, intake, now)?, v))) {
        Ok(done) => done,
        Err(why) => {
            return Decided {
                commit,
                effect: Effect::Nothing(why),
            }
        }
    };
    let request = match verdict {
        Verdict::Unchanged { problem, .. } => {
            commit.outgoing = rendered.into_iter().map(|(mail, _)| mail).collect();
            return Decided {
                commit,
                effect: Effect::Notice(problem),
            };
        }
        Verdict::Correction { ref request, .. } => {
            // The applicant's corrected form, in answer to this message,
            // resumes the request.
            commit.answer_index = rendered
                .iter()
                .map(|(_, id)| (id.clone(), vec![request.id.clone()]))
                .collect();
            request.clone()
        }
        Verdict::Approved {
            request, account, ..
        } => {
            commit.accounts.push(*account);
            request
        }
        Verdict::Refused { request, .. } => request,
    };
    let decision = request.state;
    commit.outgoing = rendered.into_iter().map(|(mail, _)| mail).collect();
    commit.closed.push(request.id.clone());
    commit.tokens.extend(record.cloned().map(|mut r| {
        r.used = true;
        r
    }));
    commit.requests.push(request);
    Decided {
        commit,
        effect: Effect::Decision(decision),
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
