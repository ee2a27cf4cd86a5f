//! The organisation's rules for a DA-100 request, decided in one place.
//!
//! [`decide`] is a pure function of the form report, what the store already
//! knows (behind the small [`Registry`] trait), the role list and the date:
//! it lists every reason of the contract that applies, and the outcome is
//! `Reason::outcome_of` of that list. The reasons come in the order of the
//! contract's reason table, field ids in the order of `layout.json`, so the
//! same form always gets the same list.
//!
//! Choices the contract leaves open, and why:
//! - **A date that cannot be right** (not a calendar date, a signature dated
//!   after the day of reception, a birth date making the staff member a minor
//!   or over a hundred) gives `missing_field:<id>`. The contract's codes are
//!   the only ones allowed, and `illegible:` would be untrue (the date was
//!   read) and would send an impossible mandate to staff sign-off, whereas
//!   the one remedy is the applicant writing a real date: a correction.
//!   A date that provides no possible date provides no date.
//! - **A licence** that is not exactly 6 digits is `missing_field:employer.licence`
//!   for the same reason.
//! - **An e-mail value that is not an address** is `invalid_email:<party>`,
//!   never `missing_field:`; checks that compare addresses (`same_email`,
//!   `shared_email`, `email_in_use`) apply to valid addresses only.
//! - **Illegible fields** give `illegible:<id>` (review) for required fields
//!   only: the optional phone and organisation decide nothing. A field that
//!   is illegible is neither missing nor checked further: a person reads it.
//! - **A zone not seen whole** (outside the picture, or on a page too dark
//!   or blurred, see `FormReport::unseen`) is never `missing_field:` nor
//!   `missing_signature:`, and unseen service boxes make no `service_count`:
//!   the page is `incomplete_scan`, which asks for it again, whole. A
//!   correction is asked only for what was seen to be missing.
//! - **`email_in_use` and `duplicate`** need to know who the person is; when
//!   a name, the licence or the birth date is missing or wrong, they are not
//!   decided now (the correction that must come first is decided again).

mod person;
mod roles;

use chrono::NaiveDate;

use crate::domain::{FieldId, FormReport, Party, Reason};

pub use crate::address::{is_valid as is_valid_email, mailbox_key};
pub use person::{Identity, Person};
pub use roles::RoleList;

/// What the store already knows, as far as the rules need it. The store
/// implements it; tests use a small in-memory one.
pub trait Registry {
    /// People already on file with this mailbox, the address given as
    /// [`mailbox_key`] makes it (lower case, no `+tag`): professionals with
    /// their licence, staff members with their birth date.
    fn people_with_email(&self, mailbox_key: &str) -> Vec<Person>;
    /// Whether a request for the same professional (licence), the same staff
    /// member ([`Person::is_same`]) and the same service is already `queued`,
    /// `review` or `approved`.
    fn has_active_request(&self, key: &RequestKey) -> bool;
}

/// The requests on file the rules may need to look at, as narrow questions:
/// the store answers them from its index, a list answers them by looking
/// (`check` without a store, tests). Only requests that
/// [hold their place](crate::domain::State::holds_place) are answered.
pub trait OnFile {
    /// Requests in which a party's address has this [`mailbox_key`].
    fn with_mailbox(&self, mailbox_key: &str) -> Vec<crate::domain::Request>;
    /// Requests of this professional (licence) for this service.
    fn of_professional(&self, licence: &str, service: &str) -> Vec<crate::domain::Request>;
}

/// Whether `email` is an address with this [`mailbox_key`].
pub fn has_mailbox(email: &str, key: &str) -> bool {
    !email.is_empty() && mailbox_key(email) == key
}

impl OnFile for [crate::domain::Request] {
    fn with_mailbox(&self, key: &str) -> Vec<crate::domain::Request> {
        self.iter()
            .filter(|r| r.state.holds_place())
            .filter(|r| has_mailbox(&r.employer.email, key) || has_mailbox(&r.user.email, key))
            .cloned()
            .collect()
    }

    fn of_professional(&self, licence: &str, service: &str) -> Vec<crate::domain::Request> {
        self.iter()
            .filter(|r| r.state.holds_place())
            .filter(|r| r.employer.licence == licence && r.service.as_deref() == Some(service))
            .cloned()
            .collect()
    }
}

/// A list is looked through as a slice (a `&Vec` is what `&dyn OnFile` takes).
impl OnFile for Vec<crate::domain::Request> {
    fn with_mailbox(&self, key: &str) -> Vec<crate::domain::Request> {
        self.as_slice().with_mailbox(key)
    }

    fn of_professional(&self, licence: &str, service: &str) -> Vec<crate::domain::Request> {
        self.as_slice().of_professional(licence, service)
    }
}

/// What makes two requests the same request: who delegates, to whom, for
/// which service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestKey {
    /// The professional's licence, 6 digits.
    pub licence: String,
    pub user: Person,
    /// A service code (`FACT`, `INSC`, `PAIE`, `DOSS`).
    pub service: String,
}

/// How a required field's value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Text,
    Licence,
    /// A signature date: no later than the day of reception.
    SignedOn,
    /// The staff member's birth date: an adult, under a hundred.
    BirthDate,
    Email(Party),
}

/// Every required field of `layout.json`, in its order: all text, date,
/// digits and e-mail fields but `employer.organisation` and `employer.phone`.
const REQUIRED: [(FieldId, Check); 11] = [
    (FieldId::EmployerLastName, Check::Text),
    (FieldId::EmployerFirstName, Check::Text),
    (FieldId::EmployerLicence, Check::Licence),
    (FieldId::EmployerEmail, Check::Email(Party::Employer)),
    (FieldId::EmployerDate, Check::SignedOn),
    (FieldId::UserLastName, Check::Text),
    (FieldId::UserFirstName, Check::Text),
    (FieldId::UserBirthDate, Check::BirthDate),
    (FieldId::UserJobTitle, Check::Text),
    (FieldId::UserEmail, Check::Email(Party::User)),
    (FieldId::UserDate, Check::SignedOn),
];

/// Age of majority: a mandated staff member must be an adult.
const ADULT_AGE: u32 = 18;
/// Beyond this age a birth date is taken for a slip of the pen.
const MAX_AGE: u32 = 100;

/// Decides every reason that applies to one form (see the module notes).
/// `today` is the day the request was received.
pub fn decide(
    report: &FormReport,
    known: &dyn Registry,
    roles: &RoleList,
    today: NaiveDate,
) -> Vec<Reason> {
    // One file, one form: a file with several is refused as a whole, and
    // judging the first form's fields would only confuse the reply.
    if report.forms >= 2 {
        return vec![Reason::MultiForm];
    }
    let form = Form::new(report, today);
    let mut reasons = Vec::new();

    if let Some(key) = form.request_key(report) {
        if known.has_active_request(&key) {
            reasons.push(Reason::Duplicate);
        }
    }
    for party in Party::BOTH {
        let seen = report.seen(&format!("{}.signature", party.as_str()));
        if seen && !report.signatures.of(party) {
            reasons.push(Reason::MissingSignature(party));
        }
    }
    for (id, check) in REQUIRED {
        match form.status(id) {
            Status::Absent => reasons.push(Reason::MissingField(id.to_string())),
            Status::Wrong if !matches!(check, Check::Email(_)) => {
                reasons.push(Reason::MissingField(id.to_string()))
            }
            _ => {}
        }
    }
    reasons.extend(email_reasons(&form, known, roles));
    let boxes_unseen: Vec<u32> = report
        .unseen
        .iter()
        .filter(|(id, _)| id.starts_with("service."))
        .map(|(_, page)| *page)
        .collect();
    let mut unseen_pages = Vec::new();
    if report.service().is_none() {
        if boxes_unseen.is_empty() || report.ticked.len() > 1 {
            reasons.push(Reason::ServiceCount);
        } else {
            unseen_pages.extend(boxes_unseen);
        }
    }
    // The pages to scan again: those of a zone that would have been
    // a reason, had it been seen (an unseen optional field asks nothing).
    for party in Party::BOTH {
        let id = format!("{}.signature", party.as_str());
        if !report.signatures.of(party) {
            unseen_pages.extend(report.unseen.get(&id));
        }
    }
    for (id, _) in REQUIRED {
        if form.status(id) == Status::Unseen {
            unseen_pages.extend(report.unseen.get(id.as_str()));
        }
    }
    if !unseen_pages.is_empty() {
        unseen_pages.sort_unstable();
        unseen_pages.dedup();
        reasons.push(Reason::IncompleteScan(unseen_pages));
    }
    for (id, _) in REQUIRED {
        if form.status(id) == Status::Illegible {
            reasons.push(Reason::Illegible(id.to_string()));
        }
    }
    reasons
}

/// `invalid_email`, `same_email`, `shared_email`, `email_in_use`, in that order.
fn email_reasons(form: &Form, known: &dyn Registry, roles: &RoleList) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for party in Party::BOTH {
        if form.status(FieldId::email(party)) == Status::Wrong {
            reasons.push(Reason::InvalidEmail(party));
        }
    }
    let keys = Party::BOTH.map(|party| form.ok(FieldId::email(party)).map(mailbox_key));
    if let [Some(employer), Some(user)] = &keys {
        if employer == user {
            reasons.push(Reason::SameEmail);
        }
    }
    for (party, key) in Party::BOTH.iter().zip(&keys) {
        let Some(key) = key else { continue };
        let own_names: Vec<String> = [FieldId::last_name(*party), FieldId::first_name(*party)]
            .into_iter()
            .filter_map(|id| form.ok(id))
            .flat_map(person::name_words)
            .collect();
        if roles.is_shared(crate::address::local_part(key), &own_names) {
            reasons.push(Reason::SharedEmail(*party));
        }
    }
    for (party, key) in Party::BOTH.iter().zip(&keys) {
        let (Some(key), Some(me)) = (key, form.person(*party)) else {
            continue;
        };
        if known
            .people_with_email(key)
            .iter()
            .any(|other| !other.is_same(&me))
        {
            reasons.push(Reason::EmailInUse(*party));
        }
    }
    reasons
}

/// What became of one required field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status<'a> {
    /// Not on the form (or only blanks).
    Absent,
    /// Ink the reader could not read: a person will.
    Illegible,
    /// Not seen whole, and nothing read: `incomplete_scan` asks for it.
    Unseen,
    /// Read, but not an acceptable value for this field.
    Wrong,
    Ok(&'a str),
}

/// The report's required fields, each checked once.
struct Form<'a> {
    statuses: Vec<(FieldId, Status<'a>)>,
}

impl<'a> Form<'a> {
    fn new(report: &'a FormReport, today: NaiveDate) -> Form<'a> {
        let statuses = REQUIRED
            .iter()
            .map(|&(id, check)| {
                let status = if report.illegible.iter().any(|i| i == id.as_str()) {
                    Status::Illegible
                } else if !report.seen(id.as_str()) && report.value(id).is_none() {
                    Status::Unseen
                } else {
                    match report.value(id).map(str::trim) {
                        None | Some("") => Status::Absent,
                        Some(value) if accepts(check, value, today) => Status::Ok(value),
                        Some(_) => Status::Wrong,
                    }
                };
                (id, status)
            })
            .collect();
        Form { statuses }
    }

    fn status(&self, id: FieldId) -> Status<'a> {
        self.statuses
            .iter()
            .find(|(field, _)| *field == id)
            .map_or(Status::Absent, |(_, status)| *status)
    }

    fn ok(&self, id: FieldId) -> Option<&'a str> {
        match self.status(id) {
            Status::Ok(value) => Some(value),
            _ => None,
        }
    }

    /// The party as a person, when names and identity were all read right.
    fn person(&self, party: Party) -> Option<Person> {
        let identity = match party {
            Party::Employer => Identity::Licence(self.ok(FieldId::EmployerLicence)?.to_string()),
            Party::User => Identity::BirthDate(parse_date(self.ok(FieldId::UserBirthDate)?)?),
        };
        Some(Person {
            last_name: self.ok(FieldId::last_name(party))?.to_string(),
            first_name: self.ok(FieldId::first_name(party))?.to_string(),
            identity,
        })
    }

    fn request_key(&self, report: &FormReport) -> Option<RequestKey> {
        Some(RequestKey {
            licence: self.ok(FieldId::EmployerLicence)?.to_string(),
            user: self.person(Party::User)?,
            service: report.service()?.to_string(),
        })
    }
}

fn accepts(check: Check, value: &str, today: NaiveDate) -> bool {
    match check {
        Check::Text => true,
        Check::Licence => value.len() == 6 && value.bytes().all(|b| b.is_ascii_digit()),
        Check::SignedOn => parse_date(value).is_some_and(|date| date <= today),
        Check::BirthDate => parse_date(value)
            .and_then(|born| today.years_since(born))
            .is_some_and(|age| (ADULT_AGE..MAX_AGE).contains(&age)),
        Check::Email(_) => crate::address::is_valid(value),
    }
}

/// A `YYYY-MM-DD` calendar date (the reader's normal form), nothing looser.
fn parse_date(value: &str) -> Option<NaiveDate> {
    let shape_ok = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests;
