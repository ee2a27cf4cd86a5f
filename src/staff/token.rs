//! One-time tokens that bind a staff reply to one request and one staff
//! member. The token travels in the `Reply-To` plus-address of the approval
//! request (`acces+<token>@organisme.example`); the store keeps only its
//! SHA-256, so a copy of the database cannot be used to forge decisions.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use mailparse::{addrparse_header, MailAddr, MailHeader};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::address::Address;

/// How long a staff member may take to answer, unless configured otherwise.
pub const DEFAULT_VALIDITY: TimeDelta = TimeDelta::days(14);

/// Random bytes in a token: 160 bits, above the 128 the issue asks for.
const TOKEN_BYTES: usize = 20;

/// Longest plus-address tag taken as a token. RFC 5321 bounds a whole local
/// part to 64 octets; anything longer is not ours.
const MAX_TAG_LEN: usize = 64;

/// Headers a staff reply may carry the plus-address in, in the order they
/// are searched: what the staff member's client wrote, then what the
/// receiving server recorded.
const RECIPIENT_HEADERS: [&str; 4] = ["To", "Cc", "Delivered-To", "X-Original-To"];

/// A token as issued or as presented in a reply: lower-case, ASCII, no `+`
/// or `-`. Its `Debug` hides the value: a live token is a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A fresh token from `rand`'s thread generator (a CSPRNG seeded and
    /// reseeded from the operating system), hex-encoded.
    pub fn issue() -> Token {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Token(hex::encode(bytes))
    }

    /// The token as it goes into the address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the token, lower-case hex: the key the store keeps.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The plus-address carrying this token on the intake address
    /// (`acces@organisme.example` → `acces+<token>@organisme.example`);
    /// `None` if `intake` is not a plain `local@domain` address.
    pub fn reply_address(&self, intake: &str) -> Option<String> {
        Some(Address::parse(intake)?.tagged(&self.0))
    }

    /// The token in `address` if it is a plus-address of `intake` (local part
    /// and domain compared without case). Any tag is returned, even one we
    /// never issued, so that a forged or mangled token is refused as
    /// `Unknown` and logged rather than taken for a new submission.
    pub fn in_address(address: &str, intake: &str) -> Option<Token> {
        let (address, intake) = (Address::parse(address)?, Address::parse(intake)?);
        let (base, tag) = address.local().split_once('+')?;
        let ours = base.eq_ignore_ascii_case(intake.local())
            && address.domain().eq_ignore_ascii_case(intake.domain());
        (ours && !tag.is_empty() && tag.len() <= MAX_TAG_LEN && tag.is_ascii())
            .then(|| Token(tag.to_ascii_lowercase()))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Finds the token a staff reply was sent to, searching `To`, `Cc`,
/// `Delivered-To` and `X-Original-To` (every header of each name, every
/// address in it). The first plus-address of `intake` wins.
pub fn find_token(headers: &[MailHeader], intake: &str) -> Option<Token> {
    RECIPIENT_HEADERS.iter().find_map(|name| {
        headers
            .iter()
            .filter(|h| h.get_key_ref().eq_ignore_ascii_case(name))
            .flat_map(recipients)
            .find_map(|addr| Token::in_address(&addr, intake))
    })
}

/// Every mailbox address in an address header; groups are opened. A header
/// mailparse cannot read as addresses (trace headers are sometimes bare)
/// is taken whole as one address.
fn recipients(header: &MailHeader) -> Vec<String> {
    match addrparse_header(header) {
        Ok(list) => list
            .iter()
            .flat_map(|a| match a {
                MailAddr::Single(s) => vec![s.addr.clone()],
                MailAddr::Group(g) => g.addrs.iter().map(|s| s.addr.clone()).collect(),
            })
            .collect(),
        Err(_) => vec![header
            .get_value()
            .trim()
            .trim_matches(['<', '>'])
            .to_string()],
    }
}

/// What the store keeps for one issued token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// [`Token::hash`] of the token.
    pub hash: String,
    pub request_id: String,
    /// The staff member the approval request was sent to.
    pub staff: String,
    pub expires_at: DateTime<Utc>,
    /// Set once a reply carrying the token has been acted upon.
    pub used: bool,
}

impl TokenRecord {
    /// The record for `token`, sent now to `staff` about `request_id`,
    /// valid for `validity` (see [`DEFAULT_VALIDITY`]).
    pub fn new(
        token: &Token,
        request_id: &str,
        staff: &str,
        now: DateTime<Utc>,
        validity: TimeDelta,
    ) -> TokenRecord {
        TokenRecord {
            hash: token.hash(),
            request_id: request_id.to_string(),
            staff: staff.to_string(),
            expires_at: now + validity,
            used: false,
        }
    }
}

/// Why a presented token does not allow a decision. Such a reply changes
/// nothing and gets no answer; the refusal is for operators' logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("unknown token")]
    Unknown,
    #[error("token already used")]
    Used,
    #[error("token expired")]
    Expired,
    #[error("reply not from the staff member the token was sent to")]
    WrongSender,
}

/// Whether a reply from `from` may act on the token whose stored record is
/// `record` (`None`: no record for that hash). Addresses are compared
/// without case. The first failing check is reported, in the order
/// unknown, used, expired, wrong sender: a replay shows as `Used` in the
/// logs whoever sends it and however late.
pub fn check(
    record: Option<&TokenRecord>,
    from: &str,
    now: DateTime<Utc>,
) -> Result<(), TokenRefusal> {
    let record = record.ok_or(TokenRefusal::Unknown)?;
    if record.used {
        return Err(TokenRefusal::Used);
    }
    if now >= record.expires_at {
        return Err(TokenRefusal::Expired);
    }
    if !record.staff.trim().eq_ignore_ascii_case(from.trim()) {
        return Err(TokenRefusal::WrongSender);
    }
    Ok(())
}
