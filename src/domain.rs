//! The words of the desk: outcomes, reasons, services, parties, the report
//! the form reader gives, the request the store keeps, and staff sign-off's
//! records (token, approval request out, account and its hand-off).
//!
//! Everything here is plain data with no I/O, so that the reader, the rules,
//! the replies and the store can agree on one vocabulary (see
//! `../shared/spec/CONTRACT.md`, whose strings these types print and parse).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What becomes of a request or a message. Ordered by precedence: when
/// several apply, the greatest wins (`rejected > correction > review > queued`).
/// `Ignored` is for messages that get no answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Queued,
    Review,
    Correction,
    Rejected,
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Queued => "queued",
            Outcome::Review => "review",
            Outcome::Correction => "correction",
            Outcome::Rejected => "rejected",
            Outcome::Ignored => "ignored",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two people on a DA-100: the professional who delegates (employer)
/// and the staff member who receives access (user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Party {
    Employer,
    User,
}

impl Party {
    pub const BOTH: [Party; 2] = [Party::Employer, Party::User];

    pub fn as_str(self) -> &'static str {
        match self {
            Party::Employer => "employer",
            Party::User => "user",
        }
    }
}

/// A value field of the DA-100, named as the contract and `layout.json`
/// name it (`employer.email`). The one list of those names: the rules'
/// checks, the request's parties, the staff's field lines and the notices
/// all go through it (a test checks it against the reader's layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldId {
    EmployerLastName,
    EmployerFirstName,
    EmployerLicence,
    EmployerPhone,
    EmployerOrganisation,
    EmployerEmail,
    EmployerDate,
    UserLastName,
    UserFirstName,
    UserBirthDate,
    UserJobTitle,
    UserEmail,
    UserDate,
}

impl FieldId {
    /// Every value field (text, digits, date, e-mail), in the layout's order.
    pub const ALL: [FieldId; 13] = [
        FieldId::EmployerLastName,
        FieldId::EmployerFirstName,
        FieldId::EmployerLicence,
        FieldId::EmployerPhone,
        FieldId::EmployerOrganisation,
        FieldId::EmployerEmail,
        FieldId::EmployerDate,
        FieldId::UserLastName,
        FieldId::UserFirstName,
        FieldId::UserBirthDate,
        FieldId::UserJobTitle,
        FieldId::UserEmail,
        FieldId::UserDate,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            FieldId::EmployerLastName => "employer.last_name",
            FieldId::EmployerFirstName => "employer.first_name",
            FieldId::EmployerLicence => "employer.licence",
            FieldId::EmployerPhone => "employer.phone",
            FieldId::EmployerOrganisation => "employer.organisation",
            FieldId::EmployerEmail => "employer.email",
            FieldId::EmployerDate => "employer.date",
            FieldId::UserLastName => "user.last_name",
            FieldId::UserFirstName => "user.first_name",
            FieldId::UserBirthDate => "user.birth_date",
            FieldId::UserJobTitle => "user.job_title",
            FieldId::UserEmail => "user.email",
            FieldId::UserDate => "user.date",
        }
    }

    /// The field named `id`, if it is one of [`FieldId::ALL`].
    pub fn parse(id: &str) -> Option<FieldId> {
        FieldId::ALL.into_iter().find(|f| f.as_str() == id)
    }

    pub const fn email(party: Party) -> FieldId {
        match party {
            Party::Employer => FieldId::EmployerEmail,
            Party::User => FieldId::UserEmail,
        }
    }

    pub const fn last_name(party: Party) -> FieldId {
        match party {
            Party::Employer => FieldId::EmployerLastName,
            Party::User => FieldId::UserLastName,
        }
    }

    pub const fn first_name(party: Party) -> FieldId {
        match party {
            Party::Employer => FieldId::EmployerFirstName,
            Party::User => FieldId::UserFirstName,
        }
    }
}

impl fmt::Display for FieldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Party {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "employer" => Ok(Party::Employer),
            "user" => Ok(Party::User),
            other => Err(UnknownCode(other.to_string())),
        }
    }
}

/// A string that names no known code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown code `{0}`")]
pub struct UnknownCode(pub String);

/// Why a message or a request got its outcome: the reason codes of the
/// contract. Field ids are the ids of `layout.json` (`employer.licence`…).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    NoAttachment,
    /// The e-mail is over the size limit: set aside unread. (Not in the
    /// contract's table, which has no code for it; message-level only.)
    TooLarge,
    NotPdf,
    EncryptedPdf,
    UnreadablePdf,
    UnknownForm,
    MultiForm,
    Duplicate,
    MissingSignature(Party),
    MissingField(String),
    InvalidEmail(Party),
    SameEmail,
    SharedEmail(Party),
    EmailInUse(Party),
    ServiceCount,
    /// A page of the form cut off, or too dark or blurred to be read whole:
    /// the pages to scan again (1-based). The contract's code names no page,
    /// so a code parsed back from the store gives none.
    IncompleteScan(Vec<u32>),
    Illegible(String),
}

impl Reason {
    /// The outcome this reason forces, before precedence is applied.
    pub fn outcome(&self) -> Outcome {
        use Reason::*;
        match self {
            NoAttachment | TooLarge | NotPdf | EncryptedPdf | UnreadablePdf | UnknownForm
            | MultiForm | Duplicate => Outcome::Rejected,
            MissingSignature(_) | MissingField(_) | InvalidEmail(_) | SameEmail
            | SharedEmail(_) | EmailInUse(_) | ServiceCount | IncompleteScan(_) => {
                Outcome::Correction
            }
            Illegible(_) => Outcome::Review,
        }
    }

    /// The outcome of a list of reasons: the strongest one, `queued` if none.
    pub fn outcome_of(reasons: &[Reason]) -> Outcome {
        reasons
            .iter()
            .map(Reason::outcome)
            .max()
            .unwrap_or(Outcome::Queued)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Reason::*;
        match self {
            NoAttachment => f.write_str("no_attachment"),
            TooLarge => f.write_str("too_large"),
            NotPdf => f.write_str("not_pdf"),
            EncryptedPdf => f.write_str("encrypted_pdf"),
            UnreadablePdf => f.write_str("unreadable_pdf"),
            UnknownForm => f.write_str("unknown_form"),
            MultiForm => f.write_str("multi_form"),
            Duplicate => f.write_str("duplicate"),
            MissingSignature(p) => write!(f, "missing_signature:{}", p.as_str()),
            MissingField(id) => write!(f, "missing_field:{id}"),
            InvalidEmail(p) => write!(f, "invalid_email:{}", p.as_str()),
            SameEmail => f.write_str("same_email"),
            SharedEmail(p) => write!(f, "shared_email:{}", p.as_str()),
            EmailInUse(p) => write!(f, "email_in_use:{}", p.as_str()),
            ServiceCount => f.write_str("service_count"),
            IncompleteScan(_) => f.write_str("incomplete_scan"),
            Illegible(id) => write!(f, "illegible:{id}"),
        }
    }
}

impl FromStr for Reason {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use Reason::*;
        let (head, arg) = match s.split_once(':') {
            Some((h, a)) => (h, Some(a)),
            None => (s, None),
        };
        let party = || -> Result<Party, UnknownCode> {
            arg.ok_or_else(|| UnknownCode(s.to_string()))?.parse()
        };
        let field = || -> Result<String, UnknownCode> {
            match arg {
                Some(a) if !a.is_empty() => Ok(a.to_string()),
                _ => Err(UnknownCode(s.to_string())),
            }
        };
        Ok(match head {
            "no_attachment" if arg.is_none() => NoAttachment,
            "too_large" if arg.is_none() => TooLarge,
            "not_pdf" if arg.is_none() => NotPdf,
            "encrypted_pdf" if arg.is_none() => EncryptedPdf,
            "unreadable_pdf" if arg.is_none() => UnreadablePdf,
            "unknown_form" if arg.is_none() => UnknownForm,
            "multi_form" if arg.is_none() => MultiForm,
            "duplicate" if arg.is_none() => Duplicate,
            "same_email" if arg.is_none() => SameEmail,
            "service_count" if arg.is_none() => ServiceCount,
            "incomplete_scan" if arg.is_none() => IncompleteScan(Vec::new()),
            "missing_signature" => MissingSignature(party()?),
            "invalid_email" => InvalidEmail(party()?),
            "shared_email" => SharedEmail(party()?),
            "email_in_use" => EmailInUse(party()?),
            "missing_field" => MissingField(field()?),
            "illegible" => Illegible(field()?),
            _ => return Err(UnknownCode(s.to_string())),
        })
    }
}

/// Reasons as the store keeps them: the contract's codes, and after an
/// incomplete scan's code the pages to scan again (`incomplete_scan#1,2`),
/// which the contract's code leaves out but a reply written later from the
/// record must name. A record without pages reads as before.
mod stored_reasons {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Reason;

    pub fn serialize<S: Serializer>(reasons: &[Reason], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(reasons.iter().map(|r| match r {
            Reason::IncompleteScan(pages) if !pages.is_empty() => {
                let pages: Vec<String> = pages.iter().map(u32::to_string).collect();
                format!("{r}#{}", pages.join(","))
            }
            r => r.to_string(),
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Reason>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| match s.split_once('#') {
                Some(("incomplete_scan", pages)) => pages
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<u32>, _>>()
                    .map(Reason::IncompleteScan)
                    .map_err(serde::de::Error::custom),
                _ => s.parse().map_err(serde::de::Error::custom),
            })
            .collect()
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One field as the reader read it: a normalised value and how sure the
/// reader is of it (0.0–1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldReading {
    pub value: String,
    pub confidence: f32,
}

/// Presence of the two handwritten signatures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signatures {
    pub employer: bool,
    pub user: bool,
}

impl Signatures {
    pub fn of(&self, party: Party) -> bool {
        match party {
            Party::Employer => self.employer,
            Party::User => self.user,
        }
    }
}

/// A small PNG image cut from the form (a field or a signature box), kept
/// for the staff member who signs the request off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crop {
    /// The `layout.json` id of the zone (`user.signature`, `employer.email`…).
    pub zone: String,
    pub png: Vec<u8>,
}

/// What the form reader found in one PDF. It states facts only (counts,
/// values, ticks, ink); the rules module decides what they mean.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FormReport {
    /// How many DA-100 forms the file holds (a second page 1 is a second form).
    pub forms: u32,
    /// Pages in the file, blank ones included.
    pub pages: u32,
    /// Service codes whose box holds ink (`FACT`, `INSC`, `PAIE`, `DOSS`).
    pub ticked: Vec<String>,
    pub signatures: Signatures,
    /// Every non-empty text, date, digits and e-mail field, normalised.
    pub fields: BTreeMap<String, FieldReading>,
    /// Fields that hold ink the reader could not read with confidence.
    pub illegible: Vec<String>,
    /// Zones (fields, boxes, signatures) found empty but not seen whole:
    /// partly outside the picture, or on a page too dark or blurred, with
    /// the page (1-based) they are on. Their emptiness says nothing: they
    /// are neither missing nor unticked nor unsigned.
    #[serde(default)]
    pub unseen: BTreeMap<String, u32>,
    /// Crops of the signatures and of every illegible field.
    #[serde(skip)]
    pub crops: Vec<Crop>,
}

impl FormReport {
    /// The value of a field, if it was read.
    pub fn value(&self, id: FieldId) -> Option<&str> {
        self.fields.get(id.as_str()).map(|f| f.value.as_str())
    }

    /// Whether zone `id` was seen whole (see `unseen`).
    pub fn seen(&self, id: &str) -> bool {
        !self.unseen.contains_key(id)
    }

    /// The one ticked service, if exactly one box is ticked.
    pub fn service(&self) -> Option<&str> {
        match self.ticked.as_slice() {
            [one] => Some(one.as_str()),
            _ => None,
        }
    }
}

/// Why a PDF could not be read as a form at all. Each maps to a reason code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the PDF is password-protected")]
    Encrypted,
    #[error("the PDF is truncated or corrupt: {0}")]
    Unreadable(String),
    #[error("the PDF is not a DA-100")]
    UnknownForm,
}

impl ReadError {
    pub fn reason(&self) -> Reason {
        match self {
            ReadError::Encrypted => Reason::EncryptedPdf,
            ReadError::Unreadable(_) => Reason::UnreadablePdf,
            ReadError::UnknownForm => Reason::UnknownForm,
        }
    }
}

/// Where a request stands. `Correction` and `Rejected` requests are kept too,
/// so that a corrected PDF resumes its place and duplicates can be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Queued,
    Review,
    Correction,
    Rejected,
    Approved,
    Refused,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Queued,
        State::Review,
        State::Correction,
        State::Rejected,
        State::Approved,
        State::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Review => "review",
            State::Correction => "correction",
            State::Rejected => "rejected",
            State::Approved => "approved",
            State::Refused => "refused",
        }
    }

    /// Waiting for a staff member's decision.
    pub fn is_pending(self) -> bool {
        matches!(self, State::Queued | State::Review)
    }

    /// Holds its addresses and its place: waiting for staff, or approved.
    /// Only such requests make an address "in use" or a new one a duplicate.
    pub fn holds_place(self) -> bool {
        matches!(self, State::Queued | State::Review | State::Approved)
    }

    /// The state a request enters with this outcome (`ignored` has none).
    pub fn from_outcome(o: Outcome) -> Option<State> {
        match o {
            Outcome::Queued => Some(State::Queued),
            Outcome::Review => Some(State::Review),
            Outcome::Correction => Some(State::Correction),
            Outcome::Rejected => Some(State::Rejected),
            Outcome::Ignored => None,
        }
    }
}

impl FromStr for State {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownCode(s.to_string()))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The professional as the queue shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employer {
    pub last_name: String,
    pub first_name: String,
    pub licence: String,
    pub email: String,
}

/// The staff member as the queue shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub last_name: String,
    pub first_name: String,
    pub birth_date: String,
    pub email: String,
}

/// One event in a request's life, for `queue show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub state: State,
    pub note: String,
}

impl HistoryEntry {
    /// A field a staff member set by reply: who, which field, the value
    /// read (empty when illegible) and the value given.
    pub fn staff_change(
        at: DateTime<Utc>,
        state: State,
        by: &str,
        field: &str,
        old: &str,
        new: &str,
    ) -> HistoryEntry {
        HistoryEntry {
            at,
            state,
            note: format!("{field} set by {by}: «{old}» → «{new}»"),
        }
    }
}

/// One form from one attachment: the unit staff sign off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// `DA-YYYY-NNNNNN`.
    pub id: String,
    /// When the e-mail that first brought it was received; a correction keeps it.
    pub received_at: DateTime<Utc>,
    pub state: State,
    /// Kept with the pages an incomplete scan names (see [`stored_reasons`]).
    #[serde(with = "stored_reasons")]
    pub reasons: Vec<Reason>,
    pub service: Option<String>,
    pub message_id: String,
    pub attachment: String,
    /// Address the applicant wrote from: where replies about it go.
    pub sender: String,
    pub employer: Employer,
    pub user: User,
    /// Every field read, with confidences, for the staff e-mail.
    pub fields: BTreeMap<String, FieldReading>,
    pub history: Vec<HistoryEntry>,
}

impl Request {
    /// The contract's JSON shape for `queue list --json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "received_at": self.received_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "state": self.state,
            "reasons": self.reasons,
            "service": self.service,
            "message_id": self.message_id,
            "attachment": self.attachment,
            "employer": self.employer,
            "user": self.user,
        })
    }
}

// ---- Staff sign-off's records ------------------------------------------------

/// What the store keeps for one issued token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The token's SHA-256 (`staff::token::Token::hash`).
    pub hash: String,
    pub request_id: String,
    /// The staff member the approval request was sent to.
    pub staff: String,
    pub expires_at: DateTime<Utc>,
    /// Set once a reply carrying the token has been acted upon.
    pub used: bool,
}

/// An approval request out with a staff member, awaiting the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub request_id: String,
    pub staff: String,
    /// Key of its [`TokenRecord`] in `tokens`.
    pub token_hash: String,
    pub sent_at: DateTime<Utc>,
    /// When the token stops working: the request is then put to staff again.
    pub expires_at: DateTime<Utc>,
}

/// Why and when an operator closed an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deactivation {
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// What became of handing an account to the organisation's systems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// `exit status 0`, `not configured`, `timed out`, … (never a secret).
    pub detail: String,
}

/// The access an approval created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub request_id: String,
    pub service: Option<String>,
    pub employer: Employer,
    pub user: User,
    /// Argon2id PHC string of the temporary password; the password itself
    /// went to the user's mailbox and nowhere else.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    /// Who approved it.
    pub approved_by: String,
    pub active: bool,
    pub deactivated: Option<Deactivation>,
    /// `None` until the hand-off command has run.
    pub handoff: Option<Handoff>,
}

/// One message ready to go: envelope and the RFC 5322 bytes. A record
/// (the store keeps it until a transport took it), so it lives here, not
/// in `outbox`, which would make the store depend on its own caller.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outgoing {
    /// Store key; also the stem of the `.eml` file name.
    pub id: String,
    pub envelope_from: String,
    pub to: Vec<String>,
    #[serde(with = "raw_text")]
    pub raw: Vec<u8>,
}

/// The message bytes as the store keeps them: as text (what lettre writes
/// is 7-bit), else base64, never as JSON's list of numbers, which took 3 to
/// 4 bytes a byte. A list written by an older version still reads.
mod raw_text {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Encoded { base64: String },
        Numbers(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(raw: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(raw) {
            Ok(text) => Raw::Text(text.to_string()),
            Err(_) => Raw::Encoded {
                base64: base64::engine::general_purpose::STANDARD.encode(raw),
            },
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(match Raw::deserialize(d)? {
            Raw::Text(text) => text.into_bytes(),
            Raw::Encoded { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64)
                .map_err(serde::de::Error::custom)?,
            Raw::Numbers(bytes) => bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_keeps_the_pages_of_an_incomplete_scan_and_the_contract_does_not_show_them() {
        #[derive(Serialize, Deserialize)]
        struct Kept {
            #[serde(with = "stored_reasons")]
            reasons: Vec<Reason>,
        }
        let reasons = vec![Reason::IncompleteScan(vec![1, 2]), Reason::ServiceCount];
        let json = serde_json::to_string(&Kept {
            reasons: reasons.clone(),
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"reasons":["incomplete_scan#1,2","service_count"]}"#
        );
        let back: Kept = serde_json::from_str(&json).unwrap();
        assert_eq!(back.reasons, reasons);
        let old: Kept = serde_json::from_str(r#"{"reasons":["incomplete_scan"]}"#).unwrap();
        assert_eq!(old.reasons, [Reason::IncompleteScan(vec![])]);
        assert!(serde_json::from_str::<Kept>(r#"{"reasons":["incomplete_scan#x"]}"#).is_err());
        assert_eq!(
            serde_json::to_string(&reasons).unwrap(),
            r#"["incomplete_scan","service_count"]"#
        );
    }

    #[test]
    fn every_reason_code_round_trips() {
        let codes = [
            "no_attachment",
            "too_large",
            "not_pdf",
            "encrypted_pdf",
            "unreadable_pdf",
            "unknown_form",
            "multi_form",
            "duplicate",
            "missing_signature:employer",
            "missing_signature:user",
            "missing_field:employer.licence",
            "invalid_email:user",
            "same_email",
            "shared_email:employer",
            "email_in_use:user",
            "service_count",
            "incomplete_scan",
            "illegible:user.email",
        ];
        for code in codes {
            let reason: Reason = code.parse().unwrap();
            assert_eq!(reason.to_string(), code);
        }
        assert!("missing_signature:boss".parse::<Reason>().is_err());
        assert!("same_email:user".parse::<Reason>().is_err());
        assert!("illegible:".parse::<Reason>().is_err());
        assert!("incomplete_scan:2".parse::<Reason>().is_err());
        // The pages to scan again stay out of the code.
        assert_eq!(
            Reason::IncompleteScan(vec![2]).to_string(),
            "incomplete_scan"
        );
        assert_eq!(
            Reason::IncompleteScan(vec![2]).outcome(),
            Outcome::Correction
        );
    }

    #[test]
    fn precedence_is_rejected_correction_review_queued() {
        let r = |s: &str| s.parse::<Reason>().unwrap();
        assert_eq!(Reason::outcome_of(&[]), Outcome::Queued);
        assert_eq!(
            Reason::outcome_of(&[r("illegible:user.email")]),
            Outcome::Review
        );
        assert_eq!(
            Reason::outcome_of(&[r("illegible:user.email"), r("same_email")]),
            Outcome::Correction
        );
        assert_eq!(
            Reason::outcome_of(&[r("same_email"), r("duplicate")]),
            Outcome::Rejected
        );
    }
}
