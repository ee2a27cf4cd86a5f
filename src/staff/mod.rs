//! Staff sign-off by reply: the pure core.
//!
//! An approval request goes to one staff member with a one-time token in
//! its `Reply-To` plus-address ([`token`]); which member gets which request
//! is [`assign`]'s choice. The reply acts only if its token is live and
//! bound to its sender ([`token::check`]) and the trusted server
//! authenticated that sender ([`auth`]); its first line is the
//! [`reply::Decision`]. An approval issues [`credentials`]. Nothing here
//! touches the store, the network or the clock: the daemon passes `now`.

pub mod assign;
pub mod auth;
pub mod credentials;
mod html;
pub mod reply;
pub mod signoff;
pub mod token;

use chrono::{DateTime, Utc};
use mailparse::{parse_headers, parse_mail};

use auth::{AuthFailure, AuthPass};
use reply::{Context, Decision, Reading};
use token::{Token, TokenRecord, TokenRefusal};

/// What a message sent to a plus-address of the intake says, before the
/// store is asked about its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffReply {
    /// The token the reply was addressed to; look up its record by
    /// [`Token::hash`].
    pub token: Token,
    /// The single `From` address, if there is exactly one.
    pub from: Option<String>,
    pub auth: Result<AuthPass, AuthFailure>,
    /// The reply's plain text (an HTML-only reply converted), read again
    /// with the approval request it answers in [`StaffReply::reading`].
    pub text: Option<String>,
    /// The display name in `From`, where the signature may start.
    pub signer: Option<String>,
}

/// Why a staff reply changes nothing: for operators' logs. No answer is
/// sent for any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    #[error("{0}")]
    Token(TokenRefusal),
    #[error("sender not authenticated: {0}")]
    Auth(AuthFailure),
}

impl StaffReply {
    /// Reads a raw message. `None` if it is not addressed to a token
    /// plus-address of `intake` (so it is an applicant's message) or
    /// cannot be parsed at all.
    pub fn read(raw: &[u8], intake: &str, authserv_id: &str) -> Option<StaffReply> {
        // Most messages are applicants': their headers alone say so, and
        // the body is parsed only for a reply carrying a token.
        let (headers, _) = parse_headers(raw).ok()?;
        let token = token::find_token(&headers, intake)?;
        let mail = parse_mail(raw).ok()?;
        Some(StaffReply {
            token,
            from: auth::sole_from(&mail.headers),
            auth: auth::authenticate(&mail.headers, authserv_id),
            text: reply::body_text(&mail),
            signer: display_name(&mail.headers),
        })
    }

    /// What the reply says, its quote found with the help of `sent`, the
    /// text of the approval request it answers (when known).
    pub fn reading(&self, sent: Option<&str>) -> Reading {
        let context = Context {
            sent,
            signer: self.signer.as_deref(),
        };
        match &self.text {
            Some(text) => reply::read(text, &context),
            None => Reading {
                decision: Decision::Unclear,
                fields: vec![],
                unclear: Some(reply::Unclear::Empty),
            },
        }
    }

    /// Whether the reply may act, given the stored record for its token
    /// (`None`: unknown) and the time now. The token is checked first, so
    /// a replayed or misdirected reply is logged as such even when it is
    /// also unauthenticated.
    pub fn acceptance(
        &self,
        record: Option<&TokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<(), Ignored> {
        let from = self.from.as_deref().unwrap_or_default();
        token::check(record, from, now).map_err(Ignored::Token)?;
        self.auth.clone().map_err(Ignored::Auth)?;
        Ok(())
    }
}

/// The display name of the single `From` address, if it has one.
fn display_name(headers: &[mailparse::MailHeader]) -> Option<String> {
    use mailparse::{MailAddr, MailHeaderMap};
    let header = headers.get_all_headers("From");
    let [from] = header.as_slice() else {
        return None;
    };
    match mailparse::addrparse_header(from).ok()?.first()? {
        MailAddr::Single(info) => info.display_name.clone().filter(|n| !n.trim().is_empty()),
        MailAddr::Group(_) => None,
    }
}
