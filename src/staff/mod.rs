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
mod fold;
mod html;
pub mod reply;
pub mod token;

use chrono::{DateTime, Utc};
use mailparse::parse_mail;

use auth::{AuthFailure, AuthPass};
use reply::Decision;
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
    pub decision: Decision,
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
        let mail = parse_mail(raw).ok()?;
        let token = token::find_token(&mail.headers, intake)?;
        Some(StaffReply {
            token,
            from: auth::sole_from(&mail.headers),
            auth: auth::authenticate(&mail.headers, authserv_id),
            decision: reply::decision_in(&mail),
        })
    }

    /// The decision the reply may act on, given the stored record for its
    /// token (`None`: unknown) and the time now. The token is checked
    /// first, so a replayed or misdirected reply is logged as such even
    /// when it is also unauthenticated. An `Unclear` decision is returned
    /// too: the token stays unused and the staff member may answer again.
    pub fn acceptance(
        &self,
        record: Option<&TokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<&Decision, Ignored> {
        let from = self.from.as_deref().unwrap_or_default();
        token::check(record, from, now).map_err(Ignored::Token)?;
        self.auth.clone().map_err(Ignored::Auth)?;
        Ok(&self.decision)
    }
}
