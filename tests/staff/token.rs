//! Tokens: issue, encode into the `Reply-To` plus-address, find in a
//! reply's recipient headers, and check against the stored record.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use guichet::staff::token::{
    check, find_token, Token, TokenRecord, TokenRefusal, DEFAULT_VALIDITY,
};
use mailparse::parse_mail;

const INTAKE: &str = "acces@organisme.example";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("test date")
}

#[test]
fn issued_tokens_are_long_random_and_address_safe() {
    let tokens: Vec<Token> = (0..200).map(|_| Token::issue()).collect();
    let distinct: HashSet<&str> = tokens.iter().map(Token::as_str).collect();
    assert_eq!(distinct.len(), tokens.len(), "tokens repeat");
    for t in &tokens {
        let s = t.as_str();
        // 40 hex digits: 160 bits.
        assert_eq!(s.len(), 40, "{s}");
        assert!(
            s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{s}"
        );
        let address = t.reply_address(INTAKE).expect("intake is an address");
        assert_eq!(address, format!("acces+{s}@organisme.example"));
        assert_eq!(Token::in_address(&address, INTAKE).as_ref(), Some(t));
    }
    // Every hex digit shows up in every position often enough: not a counter.
    for pos in 0..40 {
        let seen: HashSet<u8> = tokens.iter().map(|t| t.as_str().as_bytes()[pos]).collect();
        assert!(
            seen.len() >= 10,
            "position {pos} takes only {} values",
            seen.len()
        );
    }
}

#[test]
fn the_store_keeps_the_sha256_not_the_token() {
    let t = Token::in_address("acces+abc@organisme.example", INTAKE).expect("token");
    // sha256("abc"), the FIPS 180-2 test vector.
    assert_eq!(
        t.hash(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let record = TokenRecord::new(
        &t,
        "DA-2024-000123",
        "agent@organisme.example",
        at("2024-11-18T09:12:00Z"),
        DEFAULT_VALIDITY,
    );
    assert_eq!(record.hash, t.hash());
    assert!(!record.hash.contains("abc"));
    assert_eq!(record.expires_at, at("2024-12-02T09:12:00Z"));
    assert!(!record.used);
    assert_eq!(format!("{t:?}"), "Token(<redacted>)");
}

#[test]
fn tokens_are_read_from_plus_addresses_of_the_intake_only() {
    let cases = [
        ("acces+5f0c2a@organisme.example", Some("5f0c2a")),
        ("ACCES+5F0C2A@Organisme.Example", Some("5f0c2a")),
        (" acces+abc@organisme.example ", Some("abc")),
        ("acces@organisme.example", None),
        ("acces+@organisme.example", None),
        ("autre+abc@organisme.example", None),
        ("acces+abc@ailleurs.example", None),
        ("acces+abc@organisme.example.evil", None),
        ("acces+abc", None),
        ("", None),
    ];
    for (address, want) in cases {
        let got = Token::in_address(address, INTAKE);
        assert_eq!(got.as_ref().map(Token::as_str), want, "{address:?}");
    }
    let long = format!("acces+{}@organisme.example", "a".repeat(65));
    assert_eq!(Token::in_address(&long, INTAKE), None);
}

#[test]
fn find_token_searches_to_cc_delivered_to_and_x_original_to() {
    let cases = [
        ("To: Guichet <acces+aaa@organisme.example>\r\n", Some("aaa")),
        (
            "To: \"Dupont, Marie\" <marie@organisme.example>, acces+bbb@organisme.example\r\n",
            Some("bbb"),
        ),
        (
            "To: marie@organisme.example\r\nCc: autre@x.example,\r\n\tGuichet DA-100 <ACCES+CCC@organisme.example>\r\n",
            Some("ccc"),
        ),
        (
            "To: acces@organisme.example\r\nDelivered-To: acces+ddd@organisme.example\r\n",
            Some("ddd"),
        ),
        ("X-Original-To: acces+eee@organisme.example\r\n", Some("eee")),
        ("To: guichet: acces+fff@organisme.example;\r\n", Some("fff")),
        // `To` is searched before `Delivered-To`.
        (
            "Delivered-To: acces+second@organisme.example\r\nTo: acces+first@organisme.example\r\n",
            Some("first"),
        ),
        // Not a recipient header.
        ("Reply-To: acces+ggg@organisme.example\r\nTo: acces@organisme.example\r\n", None),
        ("Subject: acces+hhh@organisme.example\r\n", None),
        ("To: acces@organisme.example\r\n", None),
    ];
    for (headers, want) in cases {
        let raw = format!("{headers}From: agent@organisme.example\r\n\r\nbody\r\n");
        let mail = parse_mail(raw.as_bytes()).expect("parses");
        let got = find_token(&mail.headers, INTAKE);
        assert_eq!(got.as_ref().map(Token::as_str), want, "{headers:?}");
    }
}

#[test]
fn check_refuses_unknown_used_expired_and_misdirected_tokens() {
    let token = Token::issue();
    let sent = at("2024-11-18T09:12:00Z");
    let live = TokenRecord::new(
        &token,
        "DA-2024-000123",
        "agent@organisme.example",
        sent,
        TimeDelta::days(3),
    );
    let used = TokenRecord {
        used: true,
        ..live.clone()
    };
    let staff = "agent@organisme.example";
    let later = at("2024-11-20T09:12:00Z");
    let cases = [
        (None, staff, later, Err(TokenRefusal::Unknown)),
        (Some(&live), staff, later, Ok(())),
        (Some(&live), "Agent@Organisme.Example", later, Ok(())),
        (Some(&live), staff, at("2024-11-21T09:11:59Z"), Ok(())),
        (
            Some(&live),
            staff,
            at("2024-11-21T09:12:00Z"),
            Err(TokenRefusal::Expired),
        ),
        (Some(&used), staff, later, Err(TokenRefusal::Used)),
        (
            Some(&used),
            "other@organisme.example",
            at("2025-01-01T00:00:00Z"),
            Err(TokenRefusal::Used),
        ),
        (
            Some(&live),
            "other@organisme.example",
            later,
            Err(TokenRefusal::WrongSender),
        ),
        (
            Some(&live),
            "agent@organisme.example.evil",
            later,
            Err(TokenRefusal::WrongSender),
        ),
        (Some(&live), "", later, Err(TokenRefusal::WrongSender)),
    ];
    for (record, from, now, want) in cases {
        assert_eq!(check(record, from, now), want, "{record:?} {from} {now}");
    }
}
