//! What one e-mail means: the functional core of the desk.
//!
//! `handle` takes a parsed `Submission`, what the store already knows, the
//! clock's reading and a source of request numbers, and returns every effect
//! as values: the requests created or resumed and the one reply due. It does
//! no I/O of its own (the form reader is pure over the PDF's bytes), so the
//! daemon and `guichet check` share it, and tests drive it with plain data.

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::domain::{
    Employer, FieldId, FormReport, HistoryEntry, Outcome, Reason, Request, State, User,
};
use crate::fold::letters_and_digits;
use crate::message::{Attachment, Silence, Submission};
use crate::reader::FormReader;
use crate::reply::{self, AttachmentResult, Reply, Templates};
use crate::rules::{self, Identity, OnFile, Person, Registry, RequestKey, RoleList};

/// The desk's fixed equipment: reader, role list, templates.
pub struct Desk {
    pub reader: Box<dyn FormReader + Send + Sync>,
    pub roles: RoleList,
    pub templates: Templates,
}

impl Desk {
    /// The one way a desk is built from the settings, for the daemon and
    /// every command: the real reader, and the operator's templates and
    /// role list when `[desk]` names them (see [`Desk::refit`]).
    pub fn from_settings(settings: &crate::config::Settings) -> anyhow::Result<Desk> {
        let mut desk = Desk {
            reader: Box::new(crate::reader::Da100Reader::new()?),
            roles: RoleList::builtin(),
            templates: Templates::builtin(),
        };
        desk.refit(settings)?;
        Ok(desk)
    }

    /// Puts the operator's templates and role list (when the settings name
    /// them) into the desk: at start and on a reload. Everything is read
    /// before anything is replaced, so a bad file leaves the desk as it was.
    pub fn refit(&mut self, settings: &crate::config::Settings) -> anyhow::Result<()> {
        let (templates, roles) = equipment(settings)?;
        self.templates = templates;
        self.roles = roles;
        Ok(())
    }
}

/// The templates and role list the settings name (`[desk]`), else the
/// built-in ones: what a command that reads no form needs of the desk.
pub fn equipment(settings: &crate::config::Settings) -> anyhow::Result<(Templates, RoleList)> {
    use anyhow::Context;
    let templates = match &settings.desk.templates {
        Some(dir) => Templates::load(dir).context("desk.templates")?,
        None => Templates::builtin(),
    };
    let mut roles = RoleList::builtin();
    if let Some(path) = &settings.desk.roles {
        let extra = RoleList::load(path)
            .with_context(|| format!("desk.roles: cannot read {}", path.display()))?;
        roles.extend(extra);
    }
    Ok((templates, roles))
}

/// What the store knows that matters to one message.
pub struct Known<'a> {
    /// The requests on file, as the rules ask about them.
    pub on_file: &'a dyn rules::OnFile,
    /// Requests that replies this message answers were about (a corrected
    /// form resumes them).
    pub answered: Vec<Request>,
    /// The processing date before this message.
    pub processing_date: Option<NaiveDate>,
}

/// The time one message may take, across all its attachments: whatever is
/// in it, the messages behind it wait no longer than this (plus the page
/// in hand when it runs out).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Instant,
}

impl Budget {
    /// A budget of `time` starting now.
    pub fn from_now(time: Duration) -> Budget {
        Budget {
            deadline: Instant::now() + time,
        }
    }

    /// A budget already spent: no PDF is read, each is answered
    /// `unreadable_pdf` and the message is cut short. For a message the
    /// daemon stopped on while reading it (its "being read" mark found at
    /// the next start): not read again, lest it stop the daemon again.
    pub fn spent_already() -> Budget {
        Budget {
            deadline: Instant::now(),
        }
    }

    pub fn spent(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// Everything one message leads to.
#[derive(Debug, Clone)]
pub struct Handled {
    pub outcome: Outcome,
    pub silence: Option<Silence>,
    pub message_reasons: Vec<Reason>,
    pub results: Vec<AttachmentResult>,
    /// What the reader found in each attachment (`None`: not a readable form).
    pub forms: Vec<Option<FormReport>>,
    /// New requests and resumed ones (same id, same reception date).
    pub requests: Vec<Request>,
    pub reply: Option<Reply>,
    /// The budget ran out before every PDF was read: those not read are
    /// answered `unreadable_pdf`, and the message is set aside for an
    /// operator, who may read them by hand.
    pub cut_short: bool,
}

/// Handles one submission received at `received_at` (its place in the
/// queue), at `now`, within `budget`. `next_id` hands out request numbers
/// for a year.
pub fn handle(
    desk: &Desk,
    sub: &Submission,
    known: &Known,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
    next_id: &mut dyn FnMut(i32) -> anyhow::Result<String>,
    budget: Budget,
) -> anyhow::Result<Handled> {
    if let Some(silence) = sub.silence {
        return Ok(silent(silence));
    }
    let today = received_at.date_naive();
    let mut resumable: Vec<Request> = known
        .answered
        .iter()
        .filter(|r| r.state == State::Correction)
        .cloned()
        .collect();

    let mut results = Vec::new();
    let mut forms = Vec::new();
    let mut requests: Vec<Request> = Vec::new();
    let mut cut_short = false;
    // The message's id on every line the reader logs (a panic caught there
    // is a bug to report with it).
    let _span = tracing::error_span!("message", message_id = %sub.message_id).entered();
    for attachment in &sub.attachments {
        // A second form in the same e-mail is checked against the first.
        let (report, reasons) = if budget.spent() && attachment.is_pdf() {
            cut_short = true;
            (None, vec![Reason::UnreadablePdf])
        } else {
            let examined = examine(desk, attachment, known.on_file, &requests, today, budget);
            // A read the deadline stopped midway.
            cut_short |= budget.spent() && examined.1.contains(&Reason::UnreadablePdf);
            examined
        };
        let previous = report
            .as_ref()
            .and_then(|rep| take_matching(&mut resumable, rep));
        let outcome = Reason::outcome_of(&reasons);
        let state = State::from_outcome(outcome).unwrap_or(State::Rejected);
        let request = match previous {
            Some(mut old) => {
                fill(&mut old, report.as_ref(), reasons.clone(), state);
                old.history.push(HistoryEntry {
                    at: now,
                    state,
                    note: format!(
                        "corrected form {} in {}",
                        attachment.filename, sub.message_id
                    ),
                });
                old.attachment = attachment.filename.clone();
                old
            }
            None => {
                let mut r = Request {
                    id: next_id(received_at.year())?,
                    received_at,
                    state,
                    reasons: vec![],
                    service: None,
                    message_id: sub.message_id.clone(),
                    attachment: attachment.filename.clone(),
                    sender: sub.from.clone(),
                    employer: Employer::default(),
                    user: User::default(),
                    fields: Default::default(),
                    history: vec![],
                };
                fill(&mut r, report.as_ref(), reasons.clone(), state);
                r.history.push(HistoryEntry {
                    at: now,
                    state,
                    note: format!("received {} in {}", attachment.filename, sub.message_id),
                });
                r
            }
        };
        results.push(AttachmentResult {
            attachment: attachment.filename.clone(),
            outcome,
            reasons,
            request_id: Some(request.id.clone()),
        });
        forms.push(report);
        requests.push(request);
    }

    let message_reasons = if sub.attachments.is_empty() {
        vec![Reason::NoAttachment]
    } else {
        vec![]
    };
    let effects = Effects {
        message_reasons,
        results,
        forms,
        requests,
    };
    let mut handled = conclude(desk, sub, known, effects);
    handled.cut_short = cut_short;
    Ok(handled)
}

/// A message over the size limit: only its headers were read. It is
/// answered (unless it must not be) and set aside by the caller.
pub fn too_large(desk: &Desk, sub: &Submission, known: &Known) -> Handled {
    if let Some(silence) = sub.silence {
        return silent(silence);
    }
    let effects = Effects {
        message_reasons: vec![Reason::TooLarge],
        ..Default::default()
    };
    conclude(desk, sub, known, effects)
}

fn silent(silence: Silence) -> Handled {
    Handled {
        outcome: Outcome::Ignored,
        silence: Some(silence),
        message_reasons: vec![],
        results: vec![],
        forms: vec![],
        requests: vec![],
        reply: None,
        cut_short: false,
    }
}

/// What the attachments of one message gave, before the reply.
#[derive(Default)]
struct Effects {
    message_reasons: Vec<Reason>,
    results: Vec<AttachmentResult>,
    forms: Vec<Option<FormReport>>,
    requests: Vec<Request>,
}

/// The message's outcome and the one reply that covers everything.
fn conclude(desk: &Desk, sub: &Submission, known: &Known, e: Effects) -> Handled {
    let outcome = e
        .results
        .iter()
        .map(|r| r.outcome)
        .chain(e.message_reasons.iter().map(Reason::outcome))
        .max()
        .unwrap_or(Outcome::Rejected);
    let processing_date = known.processing_date.or_else(|| {
        e.requests
            .iter()
            .filter(|r| r.state.is_pending())
            .map(|r| r.received_at.date_naive())
            .min()
    });
    let answered = reply::Answered {
        from: sub.from.clone(),
        message_id: sub.message_id.clone(),
        references: sub.answers.clone(),
    };
    let reply = reply::answer(
        &answered,
        &e.results,
        &e.message_reasons,
        processing_date,
        &desk.templates,
    );
    Handled {
        outcome,
        silence: None,
        message_reasons: e.message_reasons,
        results: e.results,
        forms: e.forms,
        requests: e.requests,
        reply,
        cut_short: false,
    }
}

/// Reads one attachment and applies the rules against the requests on file:
/// the report (when the file is a readable DA-100) and the reasons. A read
/// that `budget` stops is an unreadable file.
pub fn examine(
    desk: &Desk,
    attachment: &Attachment,
    stored: &dyn rules::OnFile,
    earlier: &[Request],
    today: NaiveDate,
    budget: Budget,
) -> (Option<FormReport>, Vec<Reason>) {
    if !attachment.is_pdf() {
        let named_pdf = attachment.filename.to_ascii_lowercase().ends_with(".pdf")
            || attachment.content_type == "application/pdf";
        // A file that says it is a PDF but is not one is a damaged PDF,
        // also when nothing could be decoded from it.
        let reason = if named_pdf {
            Reason::UnreadablePdf
        } else {
            Reason::NotPdf
        };
        return (None, vec![reason]);
    }
    match desk.reader.read_before(&attachment.bytes, budget.deadline) {
        Err(e) => (None, vec![e.reason()]),
        Ok(mut report) => {
            // A file of several forms is refused whole: what its first form
            // says is no request of anyone's.
            if report.forms >= 2 {
                report.fields.clear();
                report.ticked.clear();
                report.illegible.clear();
            }
            let on_file = Seen {
                stored,
                earlier,
                except: None,
            };
            let reasons = rules::decide(&report, &on_file, &desk.roles, today);
            (Some(report), reasons)
        }
    }
}

/// The rules applied again to a request a staff member corrected by
/// reply: `report` is the request `id` as corrected, judged against the
/// other requests on file; `today` is its reception day.
pub fn decide_again(
    roles: &RoleList,
    report: &FormReport,
    id: &str,
    stored: &dyn rules::OnFile,
    today: NaiveDate,
) -> Vec<Reason> {
    let on_file = Seen {
        stored,
        earlier: &[],
        except: Some(id),
    };
    rules::decide(report, &on_file, roles, today)
}

/// Copies what the form says into the request.
fn fill(r: &mut Request, report: Option<&FormReport>, reasons: Vec<Reason>, state: State) {
    r.state = state;
    r.reasons = reasons;
    let Some(rep) = report else {
        return;
    };
    let v = |id: FieldId| rep.value(id).unwrap_or("").to_string();
    r.service = rep.service().map(str::to_string);
    r.employer = Employer {
        last_name: v(FieldId::EmployerLastName),
        first_name: v(FieldId::EmployerFirstName),
        licence: v(FieldId::EmployerLicence),
        email: v(FieldId::EmployerEmail),
    };
    r.user = User {
        last_name: v(FieldId::UserLastName),
        first_name: v(FieldId::UserFirstName),
        birth_date: v(FieldId::UserBirthDate),
        email: v(FieldId::UserEmail),
    };
    r.fields = rep.fields.clone();
}

/// Picks the request a corrected form continues: same staff member, else
/// same professional, else the oldest one waiting for a correction.
fn take_matching(resumable: &mut Vec<Request>, rep: &FormReport) -> Option<Request> {
    if resumable.is_empty() {
        return None;
    }
    let same = |a: &str, b: Option<&str>| {
        b.is_some_and(|b| !a.is_empty() && letters_and_digits(a) == letters_and_digits(b))
    };
    let pos = resumable
        .iter()
        .position(|r| {
            same(&r.user.last_name, rep.value(FieldId::UserLastName))
                && same(&r.user.first_name, rep.value(FieldId::UserFirstName))
        })
        .or_else(|| {
            resumable
                .iter()
                .position(|r| same(&r.employer.licence, rep.value(FieldId::EmployerLicence)))
        })
        .unwrap_or(0);
    Some(resumable.remove(pos))
}

/// The requests on file and those of earlier attachments of the same
/// e-mail, seen together through the rules' `Registry` (less the request
/// being judged again, if any).
struct Seen<'a> {
    stored: &'a dyn rules::OnFile,
    earlier: &'a [Request],
    except: Option<&'a str>,
}

impl Seen<'_> {
    /// What the store and the earlier attachments answered, less the
    /// request judged again.
    fn found(&self, stored: Vec<Request>, earlier: Vec<Request>) -> Vec<Request> {
        stored
            .into_iter()
            .chain(earlier)
            .filter(|r| Some(r.id.as_str()) != self.except)
            .collect()
    }
}

fn employer_of(r: &Request) -> Person {
    Person {
        last_name: r.employer.last_name.clone(),
        first_name: r.employer.first_name.clone(),
        identity: Identity::Licence(r.employer.licence.clone()),
    }
}

fn user_of(r: &Request) -> Option<Person> {
    let birth = NaiveDate::parse_from_str(&r.user.birth_date, "%Y-%m-%d").ok()?;
    Some(Person {
        last_name: r.user.last_name.clone(),
        first_name: r.user.first_name.clone(),
        identity: Identity::BirthDate(birth),
    })
}

impl Registry for Seen<'_> {
    fn people_with_email(&self, key: &str) -> Vec<Person> {
        let found = self.found(
            self.stored.with_mailbox(key),
            self.earlier.with_mailbox(key),
        );
        let mut out = Vec::new();
        for r in &found {
            if rules::has_mailbox(&r.employer.email, key) {
                out.push(employer_of(r));
            }
            if rules::has_mailbox(&r.user.email, key) {
                out.extend(user_of(r));
            }
        }
        out
    }

    fn has_active_request(&self, key: &RequestKey) -> bool {
        let (licence, service) = (&key.licence, &key.service);
        self.found(
            self.stored.of_professional(licence, service),
            self.earlier.of_professional(licence, service),
        )
        .iter()
        .any(|r| user_of(r).is_some_and(|user| user.is_same(&key.user)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FieldReading, ReadError, Signatures};
    use chrono::TimeZone;

    /// Reads the form named by the PDF's bytes: `%PDF-ok`, `%PDF-nosig`,
    /// `%PDF-two`, `%PDF-locked`.
    struct Scripted;

    fn complete() -> FormReport {
        let fields = [
            ("employer.last_name", "Fortin"),
            ("employer.first_name", "Léa"),
            ("employer.licence", "397937"),
            ("employer.email", "lea.fortin@dentaire.example"),
            ("employer.date", "2024-11-07"),
            ("user.last_name", "Martel"),
            ("user.first_name", "Valérie"),
            ("user.birth_date", "1974-11-22"),
            ("user.job_title", "Réceptionniste"),
            ("user.email", "valerie.martel@dentaire.example"),
            ("user.date", "2024-11-12"),
        ];
        FormReport {
            forms: 1,
            pages: 2,
            ticked: vec!["INSC".into()],
            signatures: Signatures {
                employer: true,
                user: true,
            },
            fields: fields
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        FieldReading {
                            value: v.to_string(),
                            confidence: 0.95,
                        },
                    )
                })
                .collect(),
            illegible: vec![],
            ..FormReport::default()
        }
    }

    impl FormReader for Scripted {
        fn read(&self, pdf: &[u8]) -> Result<FormReport, ReadError> {
            let mut r = complete();
            match pdf {
                b"%PDF-ok" => Ok(r),
                b"%PDF-nosig" => {
                    r.signatures.user = false;
                    Ok(r)
                }
                b"%PDF-two" => {
                    r.forms = 2;
                    Ok(r)
                }
                b"%PDF-locked" => Err(ReadError::Encrypted),
                b"%PDF-slow" => {
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(r)
                }
                _ => Err(ReadError::Unreadable("scripted".into())),
            }
        }
    }

    fn desk() -> Desk {
        Desk {
            reader: Box::new(Scripted),
            roles: RoleList::builtin(),
            templates: Templates::builtin(),
        }
    }

    fn submission(id: &str, answers: &[&str], files: &[(&str, &[u8])]) -> Submission {
        Submission {
            message_id: id.into(),
            from: "lea.fortin@dentaire.example".into(),
            subject: "DA-100".into(),
            answers: answers.iter().map(|s| s.to_string()).collect(),
            recipients: vec!["acces@organisme.example".into()],
            date: None,
            silence: None,
            attachments: files
                .iter()
                .map(|(name, bytes)| Attachment {
                    filename: name.to_string(),
                    content_type: "application/octet-stream".into(),
                    bytes: bytes.to_vec(),
                })
                .collect(),
            fingerprint: format!("fp-{id}"),
        }
    }

    fn run(sub: &Submission, known: &Known, day: u32) -> Handled {
        run_within(sub, known, day, Duration::from_secs(60))
    }

    fn run_within(sub: &Submission, known: &Known, day: u32, budget: Duration) -> Handled {
        let mut n = 0;
        let mut next = |year| {
            n += 1;
            Ok(format!("DA-{year}-{n:06}"))
        };
        let now = Utc.with_ymd_and_hms(2024, 11, day, 9, 0, 0).unwrap();
        let budget = Budget::from_now(budget);
        handle(&desk(), sub, known, now, now, &mut next, budget).unwrap()
    }

    /// Nothing on file.
    static NONE: Vec<Request> = Vec::new();

    fn empty() -> Known<'static> {
        Known {
            on_file: &NONE,
            answered: vec![],
            processing_date: None,
        }
    }

    fn codes(h: &Handled) -> Vec<Vec<String>> {
        h.results
            .iter()
            .map(|r| r.reasons.iter().map(|x| x.to_string()).collect())
            .collect()
    }

    #[test]
    fn each_attachment_is_a_request_judged_on_its_own() {
        let sub = submission(
            "<m1@x>",
            &[],
            &[
                ("a.pdf", b"%PDF-ok"),
                ("b.pdf", b"%PDF-two"),
                ("c.pdf", b"%PDF-locked"),
                ("d.pdf", b"not a pdf at all"),
                ("photo.jpg", b"JFIF"),
            ],
        );
        let h = run(&sub, &empty(), 18);
        assert_eq!(
            codes(&h),
            vec![
                vec![],
                vec!["multi_form".to_string()],
                vec!["encrypted_pdf".to_string()],
                vec!["unreadable_pdf".to_string()],
                vec!["not_pdf".to_string()],
            ]
        );
        assert_eq!(h.requests.len(), 5);
        assert_eq!(h.requests[0].state, State::Queued);
        assert_eq!(h.outcome, Outcome::Rejected);
        assert!(h.reply.is_some());
    }

    #[test]
    fn the_same_form_twice_in_one_email_is_a_duplicate() {
        let sub = submission(
            "<m2@x>",
            &[],
            &[("a.pdf", b"%PDF-ok"), ("b.pdf", b"%PDF-ok")],
        );
        let h = run(&sub, &empty(), 18);
        assert_eq!(codes(&h), vec![vec![], vec!["duplicate".to_string()]]);
    }

    #[test]
    fn no_attachment_and_silence() {
        let h = run(&submission("<m3@x>", &[], &[]), &empty(), 18);
        assert_eq!(h.message_reasons, vec![Reason::NoAttachment]);
        assert_eq!(h.outcome, Outcome::Rejected);
        let mut quiet = submission("<m4@x>", &[], &[("a.pdf", b"%PDF-ok")]);
        quiet.silence = Some(Silence::AutoReply);
        let h = run(&quiet, &empty(), 18);
        assert_eq!(h.outcome, Outcome::Ignored);
        assert!(h.reply.is_none() && h.requests.is_empty());
    }

    #[test]
    fn a_corrected_form_resumes_its_request_and_keeps_its_place() {
        let first = run(
            &submission("<m5@x>", &[], &[("a.pdf", b"%PDF-nosig")]),
            &empty(),
            18,
        );
        let original = first.requests[0].clone();
        assert_eq!(original.state, State::Correction);
        let on_file = vec![original.clone()];
        let known = Known {
            on_file: &on_file,
            answered: vec![original.clone()],
            processing_date: None,
        };
        let second = run(
            &submission(
                "<m6@x>",
                &["<reply@organisme.example>"],
                &[("a2.pdf", b"%PDF-ok")],
            ),
            &known,
            25,
        );
        let resumed = &second.requests[0];
        assert_eq!(resumed.id, original.id);
        assert_eq!(resumed.received_at, original.received_at);
        assert_eq!(resumed.state, State::Queued);
        assert_eq!(resumed.history.len(), 2);
    }

    #[test]
    fn the_time_budget_bounds_a_message_and_what_it_left_unread_is_answered() {
        let files: [(&str, &[u8]); 4] = [
            ("a.pdf", b"%PDF-slow"),
            ("b.pdf", b"%PDF-slow"),
            ("photo.jpg", b"JFIF"),
            ("c.pdf", b"%PDF-ok"),
        ];
        let sub = submission("<m7@x>", &[], &files);
        let started = Instant::now();
        let h = run_within(&sub, &empty(), 18, Duration::from_millis(100));
        assert!(started.elapsed() < Duration::from_millis(550));
        assert!(h.cut_short);
        let unread = vec!["unreadable_pdf".to_string()];
        assert_eq!(
            codes(&h),
            vec![vec![], unread.clone(), vec!["not_pdf".to_string()], unread]
        );
        assert!(h.reply.is_some(), "the applicant is answered");
        assert!(!run(&sub, &empty(), 18).cut_short);
    }

    #[test]
    fn a_message_the_daemon_stopped_on_is_answered_without_reading_it() {
        let files: [(&str, &[u8]); 3] = [
            ("a.pdf", b"%PDF-ok"),
            ("photo.jpg", b"JFIF"),
            ("empty.pdf", b""),
        ];
        let sub = submission("<m8@x>", &[], &files);
        let mut n = 0;
        let mut next = |year| {
            n += 1;
            Ok(format!("DA-{year}-{n:06}"))
        };
        let now = Utc.with_ymd_and_hms(2024, 11, 18, 9, 0, 0).unwrap();
        let spent = Budget::spent_already();
        let h = handle(&desk(), &sub, &empty(), now, now, &mut next, spent).unwrap();
        assert!(h.cut_short && h.reply.is_some());
        let codes = codes(&h);
        assert_eq!(codes[0], ["unreadable_pdf"]);
        assert_eq!(codes[1], ["not_pdf"]);
        assert_eq!(
            codes[2],
            ["unreadable_pdf"],
            "an empty .pdf is a damaged one"
        );
    }
}
