//! Staff sign-off's decisions, pure functions over values and the time
//! now: which waiting requests go to whom ([`due_assignments`]), what a
//! staff reply does ([`judge`]), whether the digest is due ([`digest_due`]).
//! The daemon's `approval_requests`, `staff_replies` and `housekeeping`
//! steps ask the store, call them and commit their effects.
//!
//! Secrets: a token leaves only in the `Reply-To` of its approval request
//! and is stored as a hash; a temporary password exists only in the one
//! message to the user and, hashed, in its account. Neither is ever logged.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};

use crate::config::Settings;
use crate::domain::{
    Account, Approval, FieldId, FieldReading, FormReport, HistoryEntry, Party, Reason, Request,
    Signatures, State,
};
use crate::pipeline;
use crate::reader;
use crate::reply::notices::{self, Problem};
use crate::reply::{RenderError, Reply, Templates};
use crate::rules::RoleList;
use crate::staff::assign::{assign, Assignment, Waiting};
use crate::staff::credentials::{self, HashError, NoFreeUsername, TemporaryPassword};
use crate::staff::reply::{self as reply_text, Decision, FieldLine, Unclear};
use crate::staff::token::{TokenRecord, TokenRefusal};
use crate::staff::{Ignored, StaffReply};

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

// ---- Staff replies --------------------------------------------------------

/// Why a staff reply changes nothing and gets no answer: it is not from
/// an authenticated staff member, or it is an automatic reply. Each is
/// logged for operators (without the token).
#[derive(Debug, thiserror::Error)]
pub enum NoAction {
    #[error("{0}")]
    Refused(Ignored),
    #[error("not from a staff member")]
    NotStaff,
    #[error("an automatic reply (out of office, bounce…)")]
    AutoReply,
    #[error(transparent)]
    Username(#[from] NoFreeUsername),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("a message could not be rendered: {0}")]
    Render(#[from] RenderError),
}

/// What an authenticated staff reply does.
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
    /// The request sent back to the applicant with the staff member's
    /// message; a corrected form in answer to `notice` resumes it.
    Correction { request: Request, notice: Reply },
    /// Nothing changed: the one `staff-notice` telling the staff member
    /// why and what to send.
    Unchanged { problem: Problem, notice: Reply },
}

impl Verdict {
    /// The request the verdict changed, if any.
    pub fn request(&self) -> Option<&Request> {
        match self {
            Verdict::Approved { request, .. }
            | Verdict::Refused { request, .. }
            | Verdict::Correction { request, .. } => Some(request),
            Verdict::Unchanged { .. } => None,
        }
    }

    /// Every message the verdict sends.
    pub fn messages(&self) -> Vec<&Reply> {
        match self {
            Verdict::Approved { messages, .. } => messages.iter().collect(),
            Verdict::Refused { notice, .. }
            | Verdict::Correction { notice, .. }
            | Verdict::Unchanged { notice, .. } => vec![notice],
        }
    }
}

/// What judging a staff reply needs besides the reply.
pub struct Bench<'a> {
    pub templates: &'a Templates,
    pub roles: &'a RoleList,
    /// The staff members: only they ever get an answer.
    pub staff: &'a [String],
    pub intake: &'a str,
    /// The requests on file (the rules look at the others when fields
    /// are corrected).
    pub on_file: &'a dyn crate::rules::OnFile,
    /// Whether a username is already in use.
    pub taken: &'a dyn Fn(&str) -> bool,
    pub now: DateTime<Utc>,
}

/// Judges a staff reply. `record` is the stored record of its token,
/// `request` the request that record names, `automatic` whether the reply
/// is an auto-reply, `message_id` the reply's own Message-ID (a notice
/// answers it). A reply that is not from an authenticated staff member,
/// or is automatic, changes nothing and gets no answer; any other reply
/// either acts or gets exactly one staff notice.
pub fn judge(
    bench: &Bench,
    reply: &StaffReply,
    record: Option<&TokenRecord>,
    request: Option<&Request>,
    automatic: bool,
    message_id: &str,
) -> Result<Verdict, NoAction> {
    // No answer ever goes to an address the trusted server did not vouch
    // for, nor to anyone but staff: no backscatter.
    let from = reply.from.as_deref().unwrap_or_default();
    reply
        .auth
        .clone()
        .map_err(|e| NoAction::Refused(Ignored::Auth(e)))?;
    if !bench.staff.iter().any(|m| m.eq_ignore_ascii_case(from)) {
        return Err(NoAction::NotStaff);
    }
    if automatic {
        return Err(NoAction::AutoReply);
    }
    let request_id = record.map(|r| r.request_id.as_str());
    let token_live = reply.acceptance(record, bench.now).is_ok();
    let reply_to = token_live
        .then(|| reply.token.reply_address(bench.intake))
        .flatten();
    let unchanged = |problem: Problem| {
        let notice = notices::staff_notice(
            bench.templates,
            from,
            request_id,
            &problem,
            reply_to.as_deref(),
            message_id,
        );
        Ok(Verdict::Unchanged { problem, notice })
    };
    if let Err(Ignored::Token(refusal)) = reply.acceptance(record, bench.now) {
        return unchanged(match refusal {
            TokenRefusal::Unknown => Problem::TokenUnknown,
            TokenRefusal::Used => Problem::TokenUsed,
            TokenRefusal::Expired => Problem::TokenExpired,
            TokenRefusal::WrongSender => Problem::OtherStaff,
        });
    }
    let Some(request) = request else {
        return unchanged(Problem::NoRequest);
    };
    if !request.state.is_pending() {
        return unchanged(Problem::NotWaiting(request.state));
    }
    // `acceptance` passed, so the sender is the staff member of the record.
    let staff = record.map(|r| r.staff.as_str()).unwrap_or(from);
    let sent = sent_text(bench.templates, request, staff);
    let reading = reply.reading(Some(&sent));
    match reading.decision {
        Decision::Approve => match corrected(bench, request, &reading.fields) {
            Ok(changes) => match unreachable_party(request, &changes) {
                Some(party) => unchanged(Problem::NoAddress(party)),
                None => approve(bench, request.clone(), staff, &changes),
            },
            Err(problem) => unchanged(problem),
        },
        Decision::Refuse(reason) => Ok(refuse(bench, request.clone(), staff, &reason)),
        Decision::Correct(message) => Ok(send_back(bench, request.clone(), staff, &message)),
        Decision::Unclear => unchanged(match reading.unclear {
            Some(Unclear::Conditional) => Problem::Conditional,
            Some(Unclear::NoMessage) => Problem::NoMessage,
            _ => Problem::NoVerb,
        }),
    }
}

/// The text of the approval request a reply about `request` answers (plain
/// text and the HTML part's text): its quote is found by it.
fn sent_text(templates: &Templates, request: &Request, staff: &str) -> String {
    let sent = notices::approval_request(templates, request, &[], staff, "");
    format!("{}\n{}", sent.text, reply_text::html_text(&sent.html))
}

/// The party whose address, once corrected, still cannot receive
/// credentials (the rules accept it; the mail library must too).
fn unreachable_party(request: &Request, changes: &[Change]) -> Option<Party> {
    Party::BOTH.into_iter().find(|party| {
        let field = FieldId::email(*party);
        let read = match party {
            Party::Employer => &request.employer.email,
            Party::User => &request.user.email,
        };
        let email = changes
            .iter()
            .find(|c| c.field == field)
            .map_or(read.as_str(), |c| c.new.as_str());
        email.trim().parse::<lettre::Address>().is_err()
    })
}

/// A field a staff member set: id, value read (empty if none), value given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub field: FieldId,
    pub old: String,
    pub new: String,
}

/// The fields a reply sets, checked: each names a field and has its
/// field's shape, and with them the rules leave no reason. Lines copied
/// from the approval request but left empty set nothing.
fn corrected(
    bench: &Bench,
    request: &Request,
    lines: &[FieldLine],
) -> Result<Vec<Change>, Problem> {
    let mut changes: Vec<Change> = Vec::new();
    for line in lines {
        let field = notices::field_named(bench.templates, &line.field)
            .ok_or_else(|| Problem::UnknownField(line.field.clone()))?;
        if line.value.is_empty() {
            continue;
        }
        let new = reader::normalise_value(field, &line.value)
            .ok_or_else(|| Problem::BadValue(field.to_string()))?;
        let old = request
            .fields
            .get(field.as_str())
            .map(|r| r.value.clone())
            .unwrap_or_default();
        changes.retain(|c| c.field != field);
        if new != old
            || request
                .reasons
                .contains(&Reason::Illegible(field.to_string()))
        {
            changes.push(Change { field, old, new });
        }
    }
    let report = report_with(request, &changes);
    let reasons = pipeline::decide_again(
        bench.roles,
        &report,
        &request.id,
        bench.on_file,
        request.received_at.date_naive(),
    );
    if reasons.is_empty() {
        Ok(changes)
    } else {
        Err(Problem::Reasons(reasons))
    }
}

/// The request as a form report, with the fields given by staff: what the
/// rules judged on reception, corrected.
fn report_with(request: &Request, changes: &[Change]) -> FormReport {
    let mut fields = request.fields.clone();
    for c in changes {
        fields.insert(
            c.field.to_string(),
            FieldReading {
                value: c.new.clone(),
                confidence: 1.0,
            },
        );
    }
    let illegible = request
        .reasons
        .iter()
        .filter_map(|r| match r {
            Reason::Illegible(id) if !changes.iter().any(|c| c.field.as_str() == id) => {
                Some(id.clone())
            }
            _ => None,
        })
        .collect();
    let signed = |party| !request.reasons.contains(&Reason::MissingSignature(party));
    FormReport {
        forms: 1,
        pages: 2,
        ticked: request.service.iter().cloned().collect(),
        signatures: Signatures {
            employer: signed(Party::Employer),
            user: signed(Party::User),
        },
        fields,
        illegible,
        ..FormReport::default()
    }
}

/// Puts a value given by staff into the request: its field, and the
/// party's record the queue and the account show.
fn set_field(request: &mut Request, change: &Change) {
    request.fields.insert(
        change.field.to_string(),
        FieldReading {
            value: change.new.clone(),
            confidence: 1.0,
        },
    );
    let slot = match change.field {
        FieldId::EmployerLastName => &mut request.employer.last_name,
        FieldId::EmployerFirstName => &mut request.employer.first_name,
        FieldId::EmployerLicence => &mut request.employer.licence,
        FieldId::EmployerEmail => &mut request.employer.email,
        FieldId::UserLastName => &mut request.user.last_name,
        FieldId::UserFirstName => &mut request.user.first_name,
        FieldId::UserBirthDate => &mut request.user.birth_date,
        FieldId::UserEmail => &mut request.user.email,
        _ => return,
    };
    slot.clone_from(&change.new);
}

/// Approves: the fields given applied (each recorded in the history), a
/// username unique among accounts made from the corrected names, a
/// temporary password of which only the hash stays, the three messages
/// to the corrected addresses.
fn approve(
    bench: &Bench,
    mut request: Request,
    staff: &str,
    changes: &[Change],
) -> Result<Verdict, NoAction> {
    for change in changes {
        set_field(&mut request, change);
        request.history.push(HistoryEntry::staff_change(
            bench.now,
            request.state,
            staff,
            change.field.as_str(),
            &change.old,
            &change.new,
        ));
    }
    request.reasons.clear();
    let username = credentials::username(
        &request.user.first_name,
        &request.user.last_name,
        bench.taken,
    )?;
    let password = TemporaryPassword::generate();
    let password_hash = credentials::hash_password(&password)?;
    let note = format!("approved by {staff}; account {username}");
    let request = settled(bench, request, State::Approved, note);
    let templates = bench.templates;
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
        created_at: bench.now,
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

/// The request moved to `state` by a staff decision, with its history line.
fn settled(bench: &Bench, mut request: Request, state: State, note: String) -> Request {
    request.state = state;
    request.history.push(HistoryEntry {
        at: bench.now,
        state,
        note,
    });
    request
}

fn refuse(bench: &Bench, request: Request, staff: &str, reason: &str) -> Verdict {
    let note = format!("refused by {staff}: {reason}");
    let request = settled(bench, request, State::Refused, note);
    let notice = notices::refused(bench.templates, &request, reason);
    Verdict::Refused { request, notice }
}

/// `CORRIGER`: the request goes back to the applicant, keeping its number
/// and its reception date (its place).
fn send_back(bench: &Bench, request: Request, staff: &str, message: &str) -> Verdict {
    let note = format!("sent back for correction by {staff}: {message}");
    let request = settled(bench, request, State::Correction, note);
    let notice = notices::staff_correction(bench.templates, &request, message);
    Verdict::Correction { request, notice }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Employer, User};
    use crate::reply::ReplyKind;
    use crate::staff::auth::{AuthFailure, AuthPass};
    use crate::staff::token::Token;
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

    fn reply(text: &str) -> StaffReply {
        StaffReply {
            token: token(),
            from: Some(STAFF.into()),
            auth: Ok(AuthPass::Dmarc),
            text: Some(text.into()),
            signer: Some("Agent Dupont".into()),
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
        run_with(reply, request, automatic, &record(), at(19, 10))
    }

    fn run_with(
        reply: &StaffReply,
        request: Option<&Request>,
        automatic: bool,
        record: &TokenRecord,
        now: DateTime<Utc>,
    ) -> Result<Verdict, NoAction> {
        let taken = |name: &str| name == "vmartel";
        let staff = vec![STAFF.to_string()];
        let on_file: Vec<Request> = request.into_iter().cloned().collect();
        let bench = Bench {
            templates: &Templates::builtin(),
            roles: &RoleList::builtin(),
            staff: &staff,
            intake: "acces@organisme.example",
            on_file: &on_file,
            taken: &taken,
            now,
        };
        judge(
            &bench,
            reply,
            Some(record),
            request,
            automatic,
            "<r1@organisme.example>",
        )
    }

    /// A request as the rules left it: every field read, `fields` of
    /// which (id, value) illegible instead.
    fn read_request(state: State, illegible: &[&str]) -> Request {
        let mut r = request("DA-2024-000001", 18, state);
        let values = [
            ("employer.last_name", "Fortin"),
            ("employer.first_name", "Léa"),
            ("employer.licence", "397937"),
            ("employer.email", "lea.fortin@clinique.example"),
            ("employer.date", "2024-11-07"),
            ("user.last_name", "Martel"),
            ("user.first_name", "Valérie"),
            ("user.birth_date", "1974-11-22"),
            ("user.job_title", "Réceptionniste"),
            ("user.email", "valerie.martel@clinique.example"),
            ("user.date", "2024-11-12"),
        ];
        for (id, v) in values {
            if illegible.contains(&id) {
                r.reasons.push(Reason::Illegible(id.into()));
            } else {
                r.fields.insert(
                    id.into(),
                    FieldReading {
                        value: v.into(),
                        confidence: 0.95,
                    },
                );
            }
        }
        if illegible.contains(&"user.email") {
            r.user.email.clear();
        }
        r
    }

    #[test]
    fn an_approval_issues_a_fresh_username_and_a_password_kept_only_hashed() {
        let pending = request("DA-2024-000001", 18, State::Queued);
        let Ok(Verdict::Approved {
            request,
            account,
            messages,
        }) = run(
            &reply("APPROUVER"),
            Some(&read_request(State::Queued, &[])),
            false,
        )
        else {
            panic!("not approved");
        };
        assert_eq!(request.state, State::Approved);
        assert_eq!(request.id, pending.id);
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
    fn field_lines_complete_a_review_request_and_are_recorded() {
        let pending = read_request(State::Review, &["user.email"]);
        let text = "Approuver\n\nCourriel de l'utilisateur : Valerie.Martel2@Clinique.example\n\
                    Nom de l’UTILISATEUR = Martel-Roy\n";
        let Ok(Verdict::Approved {
            request,
            account,
            messages,
        }) = run(&reply(text), Some(&pending), false)
        else {
            panic!("not approved");
        };
        assert_eq!(request.user.email, "valerie.martel2@clinique.example");
        assert_eq!(account.user.last_name, "Martel-Roy");
        assert_eq!(
            account.username, "vmartelroy",
            "made from the corrected names"
        );
        assert_eq!(messages[1].to, "valerie.martel2@clinique.example");
        let notes: Vec<&str> = request.history.iter().map(|h| h.note.as_str()).collect();
        assert!(notes.contains(
            &"user.email set by agent@organisme.example: «» → «valerie.martel2@clinique.example»"
        ));
        assert!(notes
            .contains(&"user.last_name set by agent@organisme.example: «Martel» → «Martel-Roy»"));
        assert!(request.reasons.is_empty());
    }

    /// The problem of a reply that changed nothing, and its one notice.
    fn problem_of(result: Result<Verdict, NoAction>) -> (Problem, Reply) {
        match result {
            Ok(Verdict::Unchanged { problem, notice }) => (problem, notice),
            Ok(other) => panic!("acted: {:?}", other.request().map(|r| r.state)),
            Err(why) => panic!("no notice: {why}"),
        }
    }

    #[test]
    fn an_approval_acts_only_when_no_reason_is_left() {
        let pending = read_request(State::Review, &["user.email", "user.date"]);
        let (problem, notice) = problem_of(run(
            &reply("APPROUVER\nCourriel de l'utilisateur : valerie.martel@clinique.example"),
            Some(&pending),
            false,
        ));
        assert_eq!(
            problem,
            Problem::Reasons(vec![Reason::Illegible("user.date".into())])
        );
        assert_eq!(notice.kind, ReplyKind::StaffNotice);
        assert_eq!(notice.to, STAFF);
        assert!(
            notice
                .text
                .contains("\nDate de signature de l'utilisateur :\n"),
            "{}",
            notice.text
        );
        assert!(
            notice.text.contains("\nUser's signature date:")
                || notice.text.contains("\nUser's signature date :")
        );
        assert_eq!(
            notice.reply_to.as_deref(),
            Some("acces+00aa11bb@organisme.example")
        );
        assert_eq!(
            notice.in_reply_to.as_deref(),
            Some("<r1@organisme.example>")
        );

        // A corrected value the rules refuse: the same address twice.
        let (problem, notice) = problem_of(run(
            &reply("APPROUVER\nuser.email: lea.fortin@clinique.example\nuser.date: 2024-11-12"),
            Some(&pending),
            false,
        ));
        assert_eq!(problem, Problem::Reasons(vec![Reason::SameEmail]));
        assert!(notice.text.contains("même adresse"), "{}", notice.text);

        let cases = [
            (
                "APPROUVER\nCouleur préférée : bleu",
                Problem::UnknownField("Couleur préférée".into()),
            ),
            (
                "APPROUVER\nuser.date : hier",
                Problem::BadValue("user.date".into()),
            ),
            ("REFUSER\n-- \nAgent", Problem::NoMessage),
            ("CORRIGER\nAgent Dupont", Problem::NoMessage),
            ("APPROUVER sauf le service", Problem::Conditional),
            ("Je regarde demain", Problem::NoVerb),
        ];
        for (text, want) in cases {
            assert_eq!(
                problem_of(run(&reply(text), Some(&pending), false)).0,
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn a_refusal_records_its_reason() {
        let pending = request("DA-2024-000001", 18, State::Review);
        let Ok(Verdict::Refused { request, notice }) =
            run(&reply("REFUSER licence inconnue"), Some(&pending), false)
        else {
            panic!("not refused");
        };
        assert_eq!(request.state, State::Refused);
        assert!(request.history[0].note.contains("licence inconnue"));
        assert!(notice.text.contains("licence inconnue"));
    }

    #[test]
    fn a_correction_keeps_number_and_place_and_carries_the_message() {
        let pending = request("DA-2024-000001", 18, State::Review);
        let Ok(Verdict::Correction { request, notice }) = run(
            &reply("CORRIGER Merci de faire signer la page 2 par l'utilisatrice.\n\nAgent Dupont"),
            Some(&pending),
            false,
        ) else {
            panic!("not sent back");
        };
        assert_eq!(request.state, State::Correction);
        assert_eq!(
            (request.id.as_str(), request.received_at),
            (pending.id.as_str(), pending.received_at)
        );
        assert_eq!(notice.kind, ReplyKind::Correction);
        assert_eq!(notice.to, pending.sender);
        assert!(notice
            .text
            .contains("Merci de faire signer la page 2 par l'utilisatrice."));
        assert!(!notice.text.contains("Dupont"), "the signature stays out");
    }

    #[test]
    fn replies_that_cannot_act_say_why_only_to_authenticated_staff() {
        let pending = request("DA-2024-000001", 18, State::Queued);
        let done = request("DA-2024-000001", 18, State::Approved);
        let (problem, _) = problem_of(run(&reply("APPROUVER"), Some(&done), false));
        assert_eq!(problem, Problem::NotWaiting(State::Approved));
        let (problem, _) = problem_of(run(&reply("APPROUVER"), None, false));
        assert_eq!(problem, Problem::NoRequest);
        let used = TokenRecord {
            used: true,
            ..record()
        };
        let (problem, notice) = problem_of(run_with(
            &reply("APPROUVER"),
            Some(&pending),
            false,
            &used,
            at(19, 10),
        ));
        assert_eq!(problem, Problem::TokenUsed);
        assert_eq!(notice.reply_to, None, "nothing left to answer");
        let late = at(18, 9) + TimeDelta::days(15);
        let (problem, notice) = problem_of(run_with(
            &reply("APPROUVER"),
            Some(&pending),
            false,
            &record(),
            late,
        ));
        assert_eq!(problem, Problem::TokenExpired);
        assert!(notice.text.contains("nouvelle demande d'approbation"));

        let mut unauthenticated = reply("APPROUVER");
        unauthenticated.auth = Err(AuthFailure::NoTrustedResults);
        let mut stranger = reply("APPROUVER");
        stranger.from = Some("x@attacker.example".into());
        let cases: Vec<(StaffReply, bool, &str)> = vec![
            (reply("APPROUVER"), true, "AutoReply"),
            (unauthenticated, false, "Refused(Auth"),
            (stranger, false, "NotStaff"),
        ];
        for (reply, automatic, expected) in cases {
            match run(&reply, Some(&pending), automatic) {
                Err(why) => assert!(format!("{why:?}").starts_with(expected), "{why:?}"),
                Ok(v) => panic!("{expected}: answered {:?}", v.request().map(|r| &r.id)),
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
