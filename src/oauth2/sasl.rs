//! The SASL messages that carry a bearer token: Google's and Microsoft's
//! `XOAUTH2` and RFC 7628 `OAUTHBEARER`, for IMAP `AUTHENTICATE` and SMTP
//! `AUTH` alike.
//!
//! A server that refuses the token answers with a challenge (a JSON error)
//! instead of a final NO; the client must then send a dummy response
//! (empty for XOAUTH2, `%x01` for OAUTHBEARER) to get the refusal.

use crate::config::{SaslMechanism, Secret};

/// The mechanism's name on the wire.
pub fn name(mechanism: SaslMechanism) -> &'static str {
    match mechanism {
        SaslMechanism::Xoauth2 => "XOAUTH2",
        SaslMechanism::Oauthbearer => "OAUTHBEARER",
    }
}

/// The client's first message (before base64).
pub fn initial_response(
    mechanism: SaslMechanism,
    user: &str,
    token: &Secret,
    host: &str,
    port: u16,
) -> Vec<u8> {
    let token = token.expose();
    match mechanism {
        SaslMechanism::Xoauth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
        SaslMechanism::Oauthbearer => {
            // RFC 5801 gs2 header: `,` and `=` in the authzid are escaped.
            let authzid = user.replace('=', "=3D").replace(',', "=2C");
            format!("n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
        }
    }
    .into_bytes()
}

/// What answers the server's error challenge, to end the exchange.
pub fn abort_response(mechanism: SaslMechanism) -> &'static [u8] {
    match mechanism {
        SaslMechanism::Xoauth2 => b"",
        SaslMechanism::Oauthbearer => b"\x01",
    }
}

/// async-imap's side of `AUTHENTICATE`: the initial response at the first
/// continuation, the abort response at any later one (an error challenge).
pub struct ImapAuthenticator {
    mechanism: SaslMechanism,
    first: Option<Vec<u8>>,
}

impl ImapAuthenticator {
    pub fn new(mechanism: SaslMechanism, initial: Vec<u8>) -> ImapAuthenticator {
        ImapAuthenticator {
            mechanism,
            first: Some(initial),
        }
    }
}

impl async_imap::Authenticator for ImapAuthenticator {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        self.first
            .take()
            .unwrap_or_else(|| abort_response(self.mechanism).to_vec())
    }
}

/// Whether a server's words say the token expired or is no longer valid
/// (Exchange: `BYE … AccessTokenExpired`; Dovecot and Gmail: `invalid_token`
/// in the error challenge, `expired` in text).
pub fn says_token_expired(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["expired", "invalid_token", "accesstokenexpired"]
        .iter()
        .any(|w| t.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_mechanisms_write_what_providers_expect() {
        let token = Secret::new("ya29.abc".into());
        let x = initial_response(
            SaslMechanism::Xoauth2,
            "acces@organisme.example",
            &token,
            "h",
            1,
        );
        assert_eq!(
            x,
            b"user=acces@organisme.example\x01auth=Bearer ya29.abc\x01\x01"
        );
        let o = initial_response(
            SaslMechanism::Oauthbearer,
            "a,b=c@organisme.example",
            &token,
            "imap.gmail.com",
            993,
        );
        assert_eq!(
            o,
            b"n,a=a=2Cb=3Dc@organisme.example,\x01host=imap.gmail.com\x01port=993\x01auth=Bearer ya29.abc\x01\x01"
        );
        assert_eq!(name(SaslMechanism::Oauthbearer), "OAUTHBEARER");
    }

    #[test]
    fn an_error_challenge_is_answered_with_the_abort_response() {
        use async_imap::Authenticator;
        let mut a = ImapAuthenticator::new(SaslMechanism::Oauthbearer, b"first".to_vec());
        assert_eq!(a.process(b""), b"first");
        assert_eq!(a.process(br#"{"status":"invalid_token"}"#), b"\x01");
        let mut a = ImapAuthenticator::new(SaslMechanism::Xoauth2, b"first".to_vec());
        a.process(b"");
        assert!(a.process(b"{}").is_empty());
    }

    #[test]
    fn expiry_is_recognised_in_the_usual_words() {
        assert!(says_token_expired(
            "User is authenticated but not connected. AccessTokenExpired"
        ));
        assert!(says_token_expired(
            r#"{"status":"invalid_token","schemes":"bearer"}"#
        ));
        assert!(!says_token_expired(
            "[AUTHENTICATIONFAILED] Authentication failed."
        ));
    }
}
