//! Staff sign-off, as the daemon runs it: approval requests out, staff
//! replies in, credentials issued, accounts handed on, the daily digest.
//!
//! The decisions are pure functions over what the store holds and the
//! time now ([`due_assignments`], [`judge`], [`digest_due`]…); the
//! `send_*`/[`take_reply`]/[`run_handoffs`] functions at the end are the
//! thin shell that reads the store, calls them and commits their effects.
//! [`crate::staff`] holds the parts that know about tokens, headers and
//! reply text.
//!
//! Secrets: a token leaves only in the `Reply-To` of its approval request
//! and is stored as a hash; a temporary password exists only in the one
//! message to the user and, hashed, in its account. Neither is ever logged.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};
use tracing::{info, warn};

use crate::config::Settings;
use crate::daemon;
use crate::domain::{HistoryEntry, Party, Request, State};
use crate::message::Submission;
use crate::outbox::Outgoing;
use crate::reply::{notices, Attachment, RenderError, Reply, Templates};
use crate::staff::assign::{assign, Assignment, Waiting};
use crate::staff::credentials::{self, HashError, NoFreeUsername, TemporaryPassword};
use crate::staff::reply::Decision;
use crate::staff::token::{Token, TokenRecord};
use crate::staff::{Ignored, StaffReply};
use crate::store::signoff::{Account, Approval, Handoff, SignoffCommit};
use crate::store::{Document, Processed, Store};

/// Longest time the hand-off command may take for one account.
const HANDOFF_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest hand-off error text recorded, in characters.
const MAX_HANDOFF_DETAIL: usize = 200;

/// What sign-off takes from the settings.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    /// The intake address: tokens are plus-addressed on it.
    pub intake: &'a str,
    pub staff: &'a [String],
    pub max_outstanding: usize,
    /// How long a token is valid.
    pub validity: TimeDelta,
}

impl<'a> Policy<'a> {
    pub fn from_settings(settings: &'a Settings) -> Policy<'a> {
        Policy {
            intake: &settings.intake.address,
            staff: &settings.staff.members,
            max_outstanding: settings.staff.max_outstanding,
            validity: TimeDelta::days(i64::from(settings.staff.token_days)),
        }
    }
}

// ---- Approval requests ----------------------------------------------------

/// An approval request holds its staff member's slot until it is answered
/// or its token expires; only then may the request go out again.
fn is_live(approval: &Approval, now: DateTime<Utc>) -> bool {
    now < approval.expires_at
}

/// Which waiting requests go to whom now: requests in `queued` or `review`
/// with no live approval request, oldest reception first, spread so that
/// no member has more than `max_outstanding` unanswered.
pub fn due_assignments(
    policy: &Policy,
    requests: &[Request],
    approvals: &[Approval],
    now: DateTime<Utc>,
) -> Vec<Assignment> {
    let pending: HashSet<&str> = requests
        .iter()
        .filter(|r| r.state.is_pending())
        .map(|r| r.id.as_str())
        .collect();
    let live: Vec<&Approval> = approvals
        .iter()
        .filter(|a| is_live(a, now) && pending.contains(a.request_id.as_str()))
        .collect();
    let mut outstanding: BTreeMap<String, usize> = BTreeMap::new();
    for a in &live {
        *outstanding.entry(a.staff.to_ascii_lowercase()).or_default() += 1;
    }
    let out: HashSet<&str> = live.iter().map(|a| a.request_id.as_str()).collect();
    let waiting: Vec<Waiting> = requests
        .iter()
        .filter(|r| r.state.is_pending() && !out.contains(r.id.as_str()))
        .map(|r| Waiting {
            request_id: &r.id,
            received_at: r.received_at,
        })
        .collect();
    assign(policy.staff, &outstanding, policy.max_outstanding, &waiting)
}

/// Approval requests about requests that no longer wait for a decision
/// (decided, or gone): their records can go.
pub fn stale_approvals(requests: &[Request], approvals: &[Approval]) -> Vec<String> {
    let pending: HashSet<&str> = requests
        .iter()
        .filter(|r| r.state.is_pending())
        .map(|r| r.id.as_str())
        .collect();
    approvals
        .iter()
        .filter(|a| !pending.contains(a.request_id.as_str()))
        .map(|a| a.request_id.clone())
        .collect()
}

/// The approval request for one request: the staff notice (fields, crops
/// inline) with the reception date after the request number in the
/// subject, so a clerk sorting a mailbox sees the queue's order, and the
/// applicant's PDF attached when the store kept it.
pub fn approval_request(
    templates: &Templates,
    request: &Request,
    document: Option<&Document>,
    staff: &str,
    reply_to: &str,
) -> Reply {
    let crops = document.map(|d| d.crops.as_slice()).unwrap_or_default();
    let mut reply = notices::approval_request(templates, request, crops, staff, reply_to);
    reply.subject = format!(
        "{} ({})",
        reply.subject,
        request.received_at.format("%Y-%m-%d")
    );
    if let Some(d) = document.filter(|d| !d.pdf.is_empty()) {
        let filename = if request.attachment.to_ascii_lowercase().ends_with(".pdf") {
            request.attachment.clone()
        } else {
            format!("{}.pdf", request.id)
        };
        reply.attachments.push(Attachment {
            filename,
            content_type: "application/pdf".into(),
            bytes: d.pdf.clone(),
        });
    }
    reply
}

// ---- Staff replies --------------------------------------------------------

/// Why a staff reply changes nothing. None of these gets an answer; each
/// is logged for operators (without the token).
#[derive(Debug, thiserror::Error)]
pub enum NoAction {
    #[error("{0}")]
    Refused(Ignored),
    #[error("an automatic reply (out of office, bounce…)")]
    AutoReply,
    #[error("no APPROUVER or REFUSER <raison> on the first line")]
    Unclear,
    #[error("the request of this token is not on file")]
    NoRequest,
    #[error("the request is {0}, not awaiting a decision")]
    NotPending(State),
    #[error("the {} address on the form cannot receive credentials", .0.as_str())]
    NoAddress(Party),
    #[error(transparent)]
    Username(#[from] NoFreeUsername),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("a message could not be rendered: {0}")]
    Render(#[from] RenderError),
}

/// What an accepted staff reply does.
#[derive(Debug)]
pub enum Verdict {
    /// The request approved, its account, and the three messages: username
    /// to the professional, temporary password to the user, notice to the
    /// sender.
    Approved {
        request: Request,
        account: Box<Account>,
        messages: Vec<Reply>,
    },
    /// The request refused and the notice to the sender with the reason.
    Refused { request: Request, notice: Reply },
}

impl Verdict {
    pub fn request(&self) -> &Request {
        match self {
            Verdict::Approved { request, .. } | Verdict::Refused { request, .. } => request,
        }
    }

    fn messages(&self) -> Vec<&Reply> {
        match self {
            Verdict::Approved { messages, .. } => messages.iter().collect(),
            Verdict::Refused { notice, .. } => vec![notice],
        }
    }
}

/// Judges a staff reply. `record` is the stored record of its token,
/// `request` the request that record names, `automatic` whether the reply
/// is an auto-reply, `taken` whether a username is already in use.
/// The token and the sender's authentication are checked first, so a
/// replayed or misdirected reply is logged as such.
pub fn judge(
    templates: &Templates,
    reply: &StaffReply,
    record: Option<&TokenRecord>,
    request: Option<&Request>,
    automatic: bool,
    taken: &dyn Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> Result<Verdict, NoAction> {
    let decision = reply.acceptance(record, now).map_err(NoAction::Refused)?;
    if automatic {
        return Err(NoAction::AutoReply);
    }
    let request = request.ok_or(NoAction::NoRequest)?;
    if !request.state.is_pending() {
        return Err(NoAction::NotPending(request.state));
    }
    // `acceptance` passed, so the sender is the staff member of the record.
    let staff = record.map(|r| r.staff.as_str()).unwrap_or_default();
    match decision {
        Decision::Approve => approve(templates, request.clone(), staff, taken, now),
        Decision::Refuse(reason) => Ok(refuse(templates, request.clone(), staff, reason, now)),
        Decision::Unclear => Err(NoAction::Unclear),
    }
}

/// Approves: a username unique among accounts, a temporary password of
/// which only the hash stays, the three messages.
fn approve(
    templates: &Templates,
    mut request: Request,
    staff: &str,
    taken: &dyn Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> Result<Verdict, NoAction> {
    for party in Party::BOTH {
        let email = match party {
            Party::Employer => &request.employer.email,
            Party::User => &request.user.email,
        };
        if email.trim().parse::<lettre::Address>().is_err() {
            return Err(NoAction::NoAddress(party));
        }
    }
    let username = credentials::username(&request.user.first_name, &request.user.last_name, taken)?;
    let password = TemporaryPassword::generate();
    let password_hash = credentials::hash_password(&password)?;
    request.state = State::Approved;
    request.history.push(HistoryEntry {
        at: now,
        state: State::Approved,
        note: format!("approved by {staff}; account {username}"),
    });
    let messages = vec![
        notices::username(templates, &request, &username),
        notices::temporary_password(templates, &request, password.expose()),
        notices::approved(templates, &request),
    ];
    let account = Account {
        username,
        request_id: request.id.clone(),
        service: request.service.clone(),
        employer: request.employer.clone(),
        user: request.user.clone(),
        password_hash,
        created_at: now,
        approved_by: staff.to_string(),
        active: true,
        deactivated: None,
        handoff: None,
    };
    Ok(Verdict::Approved {
        request,
        account: Box::new(account),
        messages,
    })
}

fn refuse(
    templates: &Templates,
    mut request: Request,
    staff: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Verdict {
    request.state = State::Refused;
    request.history.push(HistoryEntry {
        at: now,
        state: State::Refused,
        note: format!("refused by {staff}: {reason}"),
    });
    let notice = notices::refused(templates, &request, reason);
    Verdict::Refused { request, notice }
}

// ---- Digest and hand-off ----------------------------------------------------

/// Whether the daily digest is due at `now` (in the desk's time zone): not
/// yet sent that day and, when an hour is given, that hour reached.
pub fn digest_due<Tz: chrono::TimeZone>(
    last: Option<NaiveDate>,
    hour: Option<u32>,
    now: &DateTime<Tz>,
) -> bool {
    last.is_none_or(|day| day < now.date_naive()) && hour.is_none_or(|h| now.hour() >= h)
}

/// What the hand-off command reads on standard input. Never the password
/// nor its hash: the organisation's systems get the account, not the secret.
pub fn handoff_json(account: &Account) -> serde_json::Value {
    serde_json::json!({
        "username": account.username,
        "request_id": account.request_id,
        "service": account.service,
        "employer": account.employer,
        "user": account.user,
        "created_at": account.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

// ---- The shell ---------------------------------------------------------------

/// One round of sign-off work after the inbox: pending hand-offs, approval
/// requests due, the digest when due. Messages go to the store's outbox.
pub async fn step(
    store: &Store,
    settings: &Settings,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Result<()> {
    run_handoffs(store, settings.staff.handoff_command.as_deref(), now).await?;
    send_approval_requests(store, &Policy::from_settings(settings), templates, now)?;
    // Without an hour the daemon leaves the digest to `guichet digest`.
    if let Some(hour) = settings.staff.digest_hour {
        send_digest(store, settings, templates, Some(hour), now)?;
    }
    Ok(())
}

/// Sends the approval requests due now, in one commit. Returns how many.
pub fn send_approval_requests(
    store: &Store,
    policy: &Policy,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Result<usize> {
    let requests = store.requests(None)?;
    let approvals = store.approvals()?;
    let by_id: HashMap<&str, &Request> = requests.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut commit = SignoffCommit {
        closed: stale_approvals(&requests, &approvals),
        ..Default::default()
    };
    for assignment in due_assignments(policy, &requests, &approvals, now) {
        let Some(request) = by_id.get(assignment.request_id.as_str()) else {
            continue;
        };
        let token = Token::issue();
        let Some(reply_to) = token.reply_address(policy.intake) else {
            anyhow::bail!("intake.address {} cannot carry a token", policy.intake);
        };
        let document = store.document(&request.id)?;
        let reply = approval_request(
            templates,
            request,
            document.as_ref(),
            &assignment.staff,
            &reply_to,
        );
        let mail = match daemon::outgoing(&reply, policy.intake, now) {
            Ok((mail, _)) => mail,
            Err(e) => {
                warn!(request = %request.id, staff = %crate::logging::pseudonym(&assignment.staff), error = %crate::logging::scrub(&e.to_string()), "approval request not rendered");
                continue;
            }
        };
        let record = TokenRecord::new(&token, &request.id, &assignment.staff, now, policy.validity);
        info!(request = %request.id, staff = %crate::logging::pseudonym(&assignment.staff), expires = %record.expires_at, "approval request sent");
        commit.opened.push(Approval {
            request_id: request.id.clone(),
            staff: assignment.staff.clone(),
            token_hash: record.hash.clone(),
            sent_at: now,
            expires_at: record.expires_at,
        });
        commit.tokens.push(record);
        commit.outgoing.push(mail);
    }
    let sent = commit.opened.len();
    if sent > 0 || !commit.closed.is_empty() {
        store.commit_signoff(&commit)?;
    }
    Ok(sent)
}

/// Handles one staff reply (a message to a token plus-address): judges it
/// and commits the verdict with the message's processed mark, or only the
/// mark when it changes nothing. Returns whether a decision was applied.
pub fn take_reply(
    store: &Store,
    settings: &Settings,
    templates: &Templates,
    sub: &Submission,
    reply: &StaffReply,
    now: DateTime<Utc>,
) -> Result<bool> {
    let record = store.token(&reply.token.hash())?;
    let request = match &record {
        Some(r) => store.request(&r.request_id)?,
        None => None,
    };
    // A store error counts as taken: better a suffix than a duplicate.
    let taken = |name: &str| store.username_taken(name).unwrap_or(true);
    let verdict = tokio::task::block_in_place(|| {
        judge(
            templates,
            reply,
            record.as_ref(),
            request.as_ref(),
            sub.silence.is_some(),
            &taken,
            now,
        )
    });
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
        Ok((outgoing, verdict)) => {
            let decision = verdict.request().state;
            commit.outgoing = outgoing;
            commit.closed.push(verdict.request().id.clone());
            commit.tokens.extend(record.clone().map(|mut r| {
                r.used = true;
                r
            }));
            match verdict {
                Verdict::Approved {
                    request, account, ..
                } => {
                    commit.requests.push(request);
                    commit.accounts.push(*account);
                }
                Verdict::Refused { request, .. } => commit.requests.push(request),
            }
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

/// Every message of a verdict, rendered; one failure stops the verdict.
fn render_all(
    verdict: &Verdict,
    from: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Outgoing>, NoAction> {
    verdict
        .messages()
        .into_iter()
        .map(|reply| Ok(daemon::outgoing(reply, from, now)?.0))
        .collect()
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
    let requests = store.requests(None)?;
    let mut commit = SignoffCommit {
        digest_sent: Some(local.date_naive()),
        ..Default::default()
    };
    if requests.iter().any(|r| r.state.is_pending()) {
        let processing = store.processing_date()?;
        for member in &settings.staff.members {
            let reply = notices::digest(templates, member, &requests, processing);
            match daemon::outgoing(&reply, &settings.intake.address, now) {
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
pub async fn run_handoffs(store: &Store, command: Option<&Path>, now: DateTime<Utc>) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Employer, User};
    use crate::reply::ReplyKind;
    use crate::staff::auth::{AuthFailure, AuthPass};
    use chrono::TimeZone;

    const STAFF: &str = "agent@organisme.example";

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 11, day, hour, 0, 0).unwrap()
    }

    fn request(id: &str, day: u32, state: State) -> Request {
        Request {
            id: id.into(),
            received_at: at(day, 8),
            state,
            reasons: vec![],
            service: Some("FACT".into()),
            message_id: format!("<{id}@clinique.example>"),
            attachment: "da100.pdf".into(),
            sender: "secretariat.fortin@clinique.example".into(),
            employer: Employer {
                last_name: "Fortin".into(),
                first_name: "Léa".into(),
                licence: "397937".into(),
                email: "lea.fortin@clinique.example".into(),
            },
            user: User {
                last_name: "Martel".into(),
                first_name: "Valérie".into(),
                birth_date: "1974-11-22".into(),
                email: "valerie.martel@clinique.example".into(),
            },
            fields: Default::default(),
            history: vec![],
        }
    }

    fn token() -> Token {
        Token::in_address(
            "acces+00aa11bb@organisme.example",
            "acces@organisme.example",
        )
        .unwrap()
    }

    fn reply(decision: Decision) -> StaffReply {
        StaffReply {
            token: token(),
            from: Some(STAFF.into()),
            auth: Ok(AuthPass::Dmarc),
            decision,
        }
    }

    fn record() -> TokenRecord {
        TokenRecord::new(
            &token(),
            "DA-2024-000001",
            STAFF,
            at(18, 9),
            TimeDelta::days(14),
        )
    }

    fn run(
        reply: &StaffReply,
        request: Option<&Request>,
        automatic: bool,
    ) -> Result<Verdict, NoAction> {
        let record = record();
        let taken = |name: &str| name == "vmartel";
        judge(
            &Templates::builtin(),
            reply,
            Some(&record),
            request,
            automatic,
            &taken,
            at(19, 10),
        )
    }

    #[test]
    fn an_approval_issues_a_fresh_username_and_a_password_kept_only_hashed() {
        let pending = request("DA-2024-000001", 18, State::Queued);
        let Ok(Verdict::Approved {
            request,
            account,
            messages,
        }) = run(&reply(Decision::Approve), Some(&pending), false)
        else {
            panic!("not approved");
        };
        assert_eq!(request.state, State::Approved);
        assert_eq!(account.username, "vmartel2", "vmartel is taken");
        assert_eq!(account.approved_by, STAFF);
        let kinds: Vec<(ReplyKind, &str)> =
            messages.iter().map(|m| (m.kind, m.to.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (ReplyKind::Username, "lea.fortin@clinique.example"),
                (
                    ReplyKind::TemporaryPassword,
                    "valerie.martel@clinique.example"
                ),
                (ReplyKind::Approved, "secretariat.fortin@clinique.example"),
            ]
        );
        let password = messages[1]
            .text
            .split_whitespace()
            .find(|w| credentials::verify(w, &account.password_hash))
            .expect("the password message holds the hashed password");
        assert!(!messages[0].text.contains(password));
        assert!(!messages[2].text.contains(password));
        assert!(!messages[1].text.contains("vmartel2"));
    }

    #[test]
    fn a_refusal_records_its_reason() {
        let pending = request("DA-2024-000001", 18, State::Review);
        let reason = "licence inconnue".to_string();
        let Ok(Verdict::Refused { request, notice }) =
            run(&reply(Decision::Refuse(reason)), Some(&pending), false)
        else {
            panic!("not refused");
        };
        assert_eq!(request.state, State::Refused);
        assert!(request.history[0].note.contains("licence inconnue"));
        assert!(notice.text.contains("licence inconnue"));
    }

    #[test]
    fn replies_that_cannot_act_say_why() {
        let pending = request("DA-2024-000001", 18, State::Queued);
        let done = request("DA-2024-000001", 18, State::Approved);
        let mut no_user_address = pending.clone();
        no_user_address.user.email = "valerie.martel@".into();
        let mut unauthenticated = reply(Decision::Approve);
        unauthenticated.auth = Err(AuthFailure::NoTrustedResults);
        let cases: Vec<(StaffReply, Option<&Request>, bool, &str)> = vec![
            (reply(Decision::Unclear), Some(&pending), false, "Unclear"),
            (reply(Decision::Approve), Some(&pending), true, "AutoReply"),
            (reply(Decision::Approve), Some(&done), false, "NotPending"),
            (reply(Decision::Approve), None, false, "NoRequest"),
            (
                reply(Decision::Approve),
                Some(&no_user_address),
                false,
                "NoAddress(User)",
            ),
            (unauthenticated, Some(&pending), false, "Refused(Auth"),
        ];
        for (reply, request, automatic, expected) in cases {
            match run(&reply, request, automatic) {
                Err(why) => assert!(format!("{why:?}").starts_with(expected), "{why:?}"),
                Ok(v) => panic!("{expected}: acted on {}", v.request().id),
            }
        }
    }

    #[test]
    fn an_expired_approval_request_frees_its_slot_and_goes_out_again() {
        let staff = vec![STAFF.to_string()];
        let policy = Policy {
            intake: "acces@organisme.example",
            staff: &staff,
            max_outstanding: 1,
            validity: TimeDelta::days(14),
        };
        let requests = vec![
            request("DA-2024-000002", 17, State::Queued),
            request("DA-2024-000001", 18, State::Review),
            request("DA-2024-000003", 16, State::Approved),
        ];
        let out = |id: &str, expires_at| Approval {
            request_id: id.into(),
            staff: STAFF.into(),
            token_hash: "h".into(),
            sent_at: at(1, 9),
            expires_at,
        };
        let live = [out("DA-2024-000001", at(30, 0))];
        assert!(due_assignments(&policy, &requests, &live, at(19, 9)).is_empty());
        let expired = [out("DA-2024-000001", at(19, 0))];
        let due = due_assignments(&policy, &requests, &expired, at(19, 9));
        let ids: Vec<&str> = due.iter().map(|a| a.request_id.as_str()).collect();
        assert_eq!(ids, ["DA-2024-000002"], "oldest first, one slot");
        let decided = [out("DA-2024-000003", at(30, 0))];
        assert_eq!(stale_approvals(&requests, &decided), ["DA-2024-000003"]);
    }

    #[test]
    fn the_digest_goes_once_a_day_from_its_hour() {
        let d = |day| NaiveDate::from_ymd_opt(2024, 11, day);
        assert!(digest_due(None, None, &at(18, 0)));
        assert!(!digest_due(d(18), None, &at(18, 23)));
        assert!(digest_due(d(17), None, &at(18, 0)));
        assert!(!digest_due(d(17), Some(7), &at(18, 6)));
        assert!(digest_due(d(17), Some(7), &at(18, 7)));
    }
}
