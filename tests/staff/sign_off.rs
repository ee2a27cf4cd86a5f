//! A staff reply read whole: token, sender, authentication and decision,
//! then accepted or ignored against the stored token record. Covers the
//! issue's cases: a forged reply without authentication, a reused token,
//! a reply from another address.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use guichet::staff::auth::{AuthFailure, AuthPass};
use guichet::staff::reply::{Decision, Unclear};
use guichet::staff::token::{Token, TokenRecord, TokenRefusal, DEFAULT_VALIDITY};
use guichet::staff::{Ignored, StaffReply};

const INTAKE: &str = "acces@organisme.example";
const TRUSTED: &str = "mx.organisme.example";
/// The token the fixtures were addressed to.
const TOKEN: &str = "5f0c2a9e7b1d43c8a6e2f90b1c7d3e4a8b6f2d01";

fn fixture(name: &str) -> String {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/staff-replies",
        name,
    ]
    .iter()
    .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("test date")
}

fn record(staff: &str) -> TokenRecord {
    let token =
        Token::in_address(&format!("acces+{TOKEN}@organisme.example"), INTAKE).expect("token");
    TokenRecord::new(
        &token,
        "DA-2024-000123",
        staff,
        at("2024-11-18T14:12:00Z"),
        DEFAULT_VALIDITY,
    )
}

/// The fixture with its trusted `Authentication-Results` header (four
/// folded lines) replaced by `replacement`.
fn with_auth(raw: &str, replacement: &str) -> String {
    let start = raw.find("Authentication-Results:").expect("header");
    let end = start
        + raw[start..]
            .find("\r\nThread-Topic")
            .or_else(|| raw[start..].find("\r\nFrom:"))
            .expect("next header")
        + 2;
    format!("{}{}{}", &raw[..start], replacement, &raw[end..])
}

#[test]
fn every_fixture_is_read_as_a_reply_to_its_token() {
    for name in [
        "gmail-fr-approve.eml",
        "outlook-fr-refuse.eml",
        "outlook-html-only-fr-refuse.eml",
        "iphone-fr-approve.eml",
    ] {
        let reply = StaffReply::read(fixture(name).as_bytes(), INTAKE, TRUSTED).expect(name);
        assert_eq!(reply.token.as_str(), TOKEN, "{name}");
        assert_eq!(
            reply.token.hash(),
            record("agent@organisme.example").hash,
            "{name}"
        );
        assert_eq!(
            reply.from.as_deref(),
            Some("agent@organisme.example"),
            "{name}"
        );
        assert_eq!(reply.auth, Ok(AuthPass::Dmarc), "{name}");
    }
}

/// Label, raw message, stored record, time of reading, expected outcome.
type Case<'a> = (
    &'a str,
    &'a str,
    Option<&'a TokenRecord>,
    DateTime<Utc>,
    Result<Decision, Ignored>,
);

#[test]
fn acceptance() {
    let now = at("2024-11-18T15:30:00Z");
    let genuine = fixture("outlook-fr-refuse.eml");
    let refusal =
        Decision::Refuse("Le numéro de permis ne correspond pas à celui du registre.".into());
    let forged_unauthenticated = with_auth(&genuine, "");
    let forged_other_server = with_auth(
        &genuine,
        "Authentication-Results: mail.attacker.example; dkim=pass header.d=organisme.example; dmarc=pass\r\n",
    );
    let dkim_only = with_auth(
        &genuine,
        "Authentication-Results: mx.organisme.example; dkim=pass header.d=organisme.example\r\n",
    );
    let other_sender = genuine.replace(
        "From: Marie Tremblay <agent@organisme.example>",
        "From: Paul Roy <paul@organisme.example>",
    );
    let live = record("agent@organisme.example");
    let used = TokenRecord {
        used: true,
        ..live.clone()
    };
    let cases: Vec<Case> = vec![
        ("genuine", &genuine, Some(&live), now, Ok(refusal.clone())),
        ("dkim only", &dkim_only, Some(&live), now, Ok(refusal)),
        (
            "unauthenticated",
            &forged_unauthenticated,
            Some(&live),
            now,
            Err(Ignored::Auth(AuthFailure::NoTrustedResults)),
        ),
        (
            "other server",
            &forged_other_server,
            Some(&live),
            now,
            Err(Ignored::Auth(AuthFailure::NoTrustedResults)),
        ),
        (
            "reused token",
            &genuine,
            Some(&used),
            now,
            Err(Ignored::Token(TokenRefusal::Used)),
        ),
        (
            "other address",
            &other_sender,
            Some(&live),
            now,
            Err(Ignored::Token(TokenRefusal::WrongSender)),
        ),
        (
            "unknown token",
            &genuine,
            None,
            now,
            Err(Ignored::Token(TokenRefusal::Unknown)),
        ),
        (
            "expired",
            &genuine,
            Some(&live),
            at("2024-12-02T14:12:00Z"),
            Err(Ignored::Token(TokenRefusal::Expired)),
        ),
    ];
    for (label, raw, record, now, want) in cases {
        let reply = StaffReply::read(raw.as_bytes(), INTAKE, TRUSTED).expect(label);
        let got = reply
            .acceptance(record, now)
            .map(|()| reply.reading(None).decision);
        assert_eq!(got, want, "{label}");
    }
}

#[test]
fn unclear_replies_are_accepted_as_unclear() {
    let reply =
        StaffReply::read(fixture("empty-reply.eml").as_bytes(), INTAKE, TRUSTED).expect("reply");
    let live = record("agent@organisme.example");
    assert_eq!(
        reply.acceptance(Some(&live), at("2024-11-18T15:30:00Z")),
        Ok(())
    );
    let reading = reply.reading(None);
    assert_eq!(reading.decision, Decision::Unclear);
    assert_eq!(reading.unclear, Some(Unclear::Empty));
}

#[test]
fn messages_to_the_plain_intake_are_not_staff_replies() {
    let raw = fixture("gmail-fr-approve.eml").replace(&format!("acces+{TOKEN}@"), "acces@");
    assert_eq!(StaffReply::read(raw.as_bytes(), INTAKE, TRUSTED), None);
    assert_eq!(StaffReply::read(b"", INTAKE, TRUSTED), None);
}
